"""What nbval's JUnit report (pytest --junitxml) says about each cell of the notebook it ran."""
import re
import xml.etree.ElementTree as ElementTree

ANSI_CODES = re.compile(r"(?:#x1B|\x1b)\[[0-9;]*m")  # colours, escaped or not in the XML
ERROR_LINE = re.compile(r"\s*[\w.]*(Error|Exception|Interrupt)\b.*:")


def failures_by_cell(junit_xml):
    """{code cell number: reason} for every failed or erroring nbval cell, and every cell not run.

    After a cell times out, nbval marks every later cell as an expected failure
    (xfail) without running it: those count as failed, or a loop in one cell
    would pass every check after it.
    """
    failed = {}
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        if not case.get("name", "").startswith("Cell "):
            continue
        number = int(case.get("name").split()[1])
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        not_run = case.find("skipped")
        if problem is not None:
            failed[number] = reason(problem.get("message", ""), problem.text or "")
        elif not_run is not None and "xfail" in not_run.get("type", ""):
            failed[number] = f"not run: {not_run.get('message', 'an earlier cell failed')}"
    return failed


def reason(message, text):
    """One line saying why a cell failed, from nbval's report.

    For an output mismatch nbval shows pytest's diff of reference_output ==
    test_output, indented by two spaces: lines starting "+ " are the
    reference's, "- " the new run's.
    """
    text = ANSI_CODES.sub("", text or message)
    lines = [line.rstrip() for line in text.splitlines()]
    if "Cell outputs differ" in text:
        got = next((line[4:] for line in lines if line.startswith("  - ")), None)
        expected = next((line[4:] for line in lines if line.startswith("  + ")), None)
        if got is None and expected is None:
            return "printed something other than the reference"
        return f"printed {got!r} where the reference printed {expected!r}"
    errors = [line.strip() for line in lines if ERROR_LINE.match(line)]
    if errors:
        return errors[-1][:500]
    return next((line.strip() for line in reversed(lines) if line.strip()), "failed")[:500]
