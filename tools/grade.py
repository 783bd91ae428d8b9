"""Grade a submission of the VAE assignment, part by part.

    python tools/grade.py SUBMISSION_DIR [--reference NOTEBOOK] [--keep DIR]

SUBMISSION_DIR holds the student's A3_VAE.ipynb and helpers.py. Exits 0 only if
every check passes, and prints one line per part (function): pass or fail,
with the reason.

It cannot be fooled by outputs a student saved, nor by an edited check cell:
nbval compares a run with the outputs stored in the same file, so the graded
notebook is a merge. Each check cell (tagged nbval-check-output) is taken
whole, code and reference outputs, from the reference notebook, matched by
cell id; every other cell is the student's, with its outputs removed. Cells
the student added stay where they were put. The merge runs under nbval in a
scratch folder, with the student's helpers.py and this project's other
modules, training shortened to 2 epochs and the evaluation to 50 test images
(the check cells print nothing that depends on either). Cells the reference
tags learner-only (the explorer, the latent walk, the gap study and the
posterior figure: given code whose results no check reads) are skipped.

Written answers (markdown cells tagged written-answer) cannot be checked by
a program: the report lists each, answered or not, for a person to read.

The reference is tools/reference.ipynb where that exists (the student
edition), else the solution notebook A3_VAE.ipynb beside tools/.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from files import plain_reason  # noqa: E402
CHECK_TAG = "nbval-check-output"
LEARNER_TAG = "learner-only"
# The modules the notebook imports besides the student's helpers.py.
SUPPORT_MODULES = ("mnist.py", "checkpoints.py", "evaluation.py", "checks.py", "files.py")
ANSWER_TAG = "written-answer"
NO_ANSWER = "YOUR ANSWER HERE"
GRADING_ENV = {"VAE_EPOCHS": "2", "VAE_EVAL_IMAGES": "50"}
CELL_TIMEOUT_S = 600
ANSI_CODES = re.compile(r"(?:#x1B|\x1b)\[[0-9;]*m")  # colours, escaped or not in the XML
ERROR_LINE = re.compile(r"\s*[\w.]*(Error|Exception|Interrupt)\b.*:")


class GradingFolderError(OSError):
    """The scratch folder for grading cannot be written; the message says why and what to do."""


def default_reference():
    pristine = Path(__file__).resolve().parent / "reference.ipynb"
    return pristine if pristine.is_file() else ROOT / "A3_VAE.ipynb"


def is_check_cell(cell):
    return CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def written_answers(reference, submission):
    """One report line per written question: these need a person, not a check."""
    submitted = {cell.id: cell for cell in submission.cells}
    lines = []
    for ref_cell in reference.cells:
        if ANSWER_TAG not in ref_cell.metadata.get("tags", []):
            continue
        cell = submitted.get(ref_cell.id)
        words = len(cell.source.replace(NO_ANSWER, "").split()) if cell is not None else 0
        state = f"answered, {words} words" if words else "not answered"
        lines.append(f"hand  {ref_cell.metadata.get('part', ref_cell.id)}: to be read by a person ({state})")
    return lines


def merge(reference, submission):
    """The notebook to grade: the reference's check cells, the student's other cells.

    Cells are laid out in the reference's order; a cell the student added goes
    after the reference cell it followed in the submission. A reference cell
    the student deleted is graded as empty.
    """
    reference_ids = {cell.id for cell in reference.cells}
    submitted = {cell.id: cell for cell in submission.cells if cell.id in reference_ids}
    added_after = {}
    previous = None
    for cell in submission.cells:
        if cell.id in reference_ids:
            previous = cell.id
        else:
            added_after.setdefault(previous, []).append(cell)

    cells = list(added_after.get(None, []))
    for ref_cell in reference.cells:
        if is_check_cell(ref_cell):
            cells.append(ref_cell)
        else:
            cell = submitted.get(ref_cell.id)
            if cell is None:
                cell = nbformat.v4.new_code_cell("", id=ref_cell.id) if ref_cell.cell_type == "code" \
                    else ref_cell
            cells.append(cell)
        cells.extend(added_after.get(ref_cell.id, []))

    merged = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in cells],
                                      metadata=reference.metadata)
    learner_only = {cell.id for cell in reference.cells if LEARNER_TAG in cell.metadata.get("tags", [])}
    for cell in merged.cells:
        if cell.cell_type == "code" and not is_check_cell(cell):
            cell.outputs, cell.execution_count = [], None
            # A student's tags must not skip or silence a cell; the reference's may skip what only
            # a learner needs (figures and numbers that no check reads).
            cell.metadata["tags"] = ["nbval-skip"] if cell.id in learner_only else []
    return merged


def failures_by_cell(junit_xml):
    """{code cell number: reason} for every failed or erroring nbval cell."""
    failed = {}
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None or not case.get("name", "").startswith("Cell "):
            continue
        failed[int(case.get("name").split()[1])] = reason(problem.get("message", ""), problem.text or "")
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


def grade(submission_dir, reference_path, keep=None):
    """Run the merged notebook under nbval; returns (all passed, report lines)."""
    submission_dir = Path(submission_dir)
    for name in ("A3_VAE.ipynb", "helpers.py"):
        if not (submission_dir / name).is_file():
            raise FileNotFoundError(f"{submission_dir} has no {name}; a submission holds A3_VAE.ipynb and helpers.py")
    reference = nbformat.read(reference_path, as_version=4)
    try:
        submission = nbformat.read(submission_dir / "A3_VAE.ipynb", as_version=4)
    except Exception as err:  # nbformat raises several kinds for a broken file
        return False, [f"FAIL  notebook: A3_VAE.ipynb cannot be read ({type(err).__name__}: {err})"]
    merged = merge(reference, submission)

    try:
        work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="vae-grade-"))
        work.mkdir(parents=True, exist_ok=True)
        nbformat.write(merged, work / "A3_VAE.ipynb")
        shutil.copy(submission_dir / "helpers.py", work / "helpers.py")
        for name in SUPPORT_MODULES:
            shutil.copy(ROOT / name, work / name)
    except OSError as err:
        happened, advice = plain_reason(err)
        where = keep or tempfile.gettempdir()
        raise GradingFolderError(f"cannot prepare the grading folder in {where}: {happened}. Nothing was "
                                 f"graded and the submission is untouched; {advice}"
                                 + ("" if keep else " (or set TMPDIR)") + ".") from None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAE_")}
        env.update(GRADING_ENV)
        env["MNIST_ROOT"] = str(Path(os.environ.get("MNIST_ROOT", ROOT / "data")).resolve())
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
             f"--nbval-cell-timeout={CELL_TIMEOUT_S}", "--junitxml=report.xml", "-vv", "A3_VAE.ipynb"],
            cwd=work, env=env, capture_output=True, text=True)
        if not (work / "report.xml").is_file():
            return False, [f"FAIL  grading did not run: {(run.stderr or run.stdout).strip()[-500:]}"]
        failed = failures_by_cell(work / "report.xml")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)

    report = []
    code_cells = [cell for cell in merged.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells):
        if not is_check_cell(cell):
            continue
        part = cell.metadata.get("part", f"notebook check {cell.id!r}")
        verdict = f"FAIL  {part}: {failed[number]}" if number in failed else f"pass  {part}"
        report.append(verdict)
    crashed = [f"      (cell {cell.id!r} raised: {failed[n]})" for n, cell in enumerate(code_cells)
               if n in failed and not is_check_cell(cell)]
    passed = run.returncode == 0 and not failed
    return passed, (report + (["cells outside the checks that failed:"] + crashed if crashed else [])
                    + written_answers(reference, submission))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", type=Path, help="folder with A3_VAE.ipynb and helpers.py")
    parser.add_argument("--reference", type=Path, default=None,
                        help="notebook whose check cells are the reference (default: see above)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the graded notebook in this folder")
    args = parser.parse_args(argv)
    try:
        passed, report = grade(args.submission, args.reference or default_reference(), args.keep)
    except (FileNotFoundError, GradingFolderError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    print("\n".join(report))
    n_parts = sum(line.startswith(("pass", "FAIL")) for line in report)
    n_failed = sum(line.startswith("FAIL") for line in report)
    n_hand = sum(line.startswith("hand") for line in report)
    print(f"\n{n_parts - n_failed} of {n_parts} checks pass: " + ("PASSED" if passed else "FAILED")
          + (f"; {n_hand} written answers to be read by a person" if n_hand else ""))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
