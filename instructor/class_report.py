"""What a class got wrong: the grades of a batch counted by cause, with pictures and similar work.

    python -m instructor.class_report GRADES_DIR [--submissions DIR] [--similarity-threshold T]

instructor/grade_batch.py writes the report after every batch, over all the results
in GRADES_DIR (those graded before included); this command writes it again from
GRADES_DIR alone. It writes, atomically:

    class_report.json   the numbers
    class_report.html   the same numbers as one self-contained page, figures embedded

Both hold: how many submissions there were and how each ended (graded, timed out,
crashed, missing, and those with no readable result); the total scores, as a
histogram; for each part, how many were graded and passed, and among the graded
who failed, the causes ranked by count (the diagnosis identifiers of
instructor/result.py) with one example reason each; the flags by kind; the
written answers given and missing; and the pairs of students whose own code is
unusually alike (instructor/similarity.py), with the matching lines side by side.
A pair is a place for a person to look, not a verdict.

The students are the results in GRADES_DIR/results and the submissions in the folder
the batch graded (recorded in GRADES_DIR/batch.json, or --submissions).
"""
import argparse
import base64
import html
import io
import json
import sys
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no window, whatever the machine has
import matplotlib.pyplot as plt  # noqa: E402

from instructor import similarity  # noqa: E402
from instructor.result import GradingResult  # noqa: E402
from instructor.submission import submissions_in  # noqa: E402
from vaekit.files import write_atomically  # noqa: E402

BATCH_FILE = "batch.json"  # what grade_batch graded: {"submissions": folder, "reference": notebook}
NO_RESULT = "no result"  # a student of the submissions folder whose result is missing or cannot be read
SHOWN_CAUSES = 6  # the figure of parts colours this many causes; the rest are "other causes"
NOT_DONE = ("raised-NotImplementedError", "not-defined")  # the causes of a part left as handed out


def read_results(out_dir, students):
    """({student: GradingResult}, [problem, in words]) for students, from out_dir/results; a student whose
    result is missing or damaged is left out and named in the problems."""
    results, problems = {}, []
    for student in students:
        path = Path(out_dir) / "results" / f"{student}.json"
        if not path.is_file():
            problems.append(f"{student}: no result in {path.parent} (not graded yet, or the grading was stopped)")
            continue
        try:
            results[student] = GradingResult.from_json(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as err:
            problems.append(f"{student}: the result {path.name} cannot be read ({type(err).__name__}: {err}); "
                            "delete it and run grade_batch again to grade the student anew")
    return results, problems


def summary(students, results, problems, pairs, max_points):
    """The report's numbers (the JSON), from each student's GradingResult.

    students: every student of the class, in order; results: {student: GradingResult} of those with one
    pairs: similar pairs (instructor/similarity.py), highest score first
    """
    statuses = Counter(results[s].status if s in results else NO_RESULT for s in students)
    graded = [results[s] for s in students if s in results and results[s].status == "graded"]
    parts = []
    for name, points in part_names(results.values()):
        failed = [(s, part) for s in students if s in results and results[s].status == "graded"
                  for part in results[s].parts if part.name == name and part.points < part.max_points]
        causes = Counter(part.diagnosis or "unidentified" for _, part in failed)
        examples = {}
        for student, part in failed:
            examples.setdefault(part.diagnosis or "unidentified", f"{student}: {part.reason}")
        parts.append({"part": name, "max_points": points, "graded": len(graded),
                      "passed": len(graded) - len(failed),
                      "diagnoses": [{"id": cause, "count": count, "example": examples[cause]}
                                    for cause, count in sorted(causes.items(), key=lambda item: (-item[1], item[0]))]})
    flags = {}
    for student in students:
        for flag in results[student].flags if student in results else []:
            for kind in flag.get("kinds") or ["unclassified"]:
                flags.setdefault(kind, []).append(f"{student}: {flag['where']}, line {flag['line']}: {flag['code']}")
    answers = {}
    for result in results.values():
        if result.status in ("graded", "crashed", "timed out"):
            for answer in result.answers:
                tally = answers.setdefault(answer.name, {"question": answer.name, "given": 0, "missing": 0})
                tally["given" if answer.words else "missing"] += 1
    return {"students": len(students), "statuses": dict(statuses), "max_points": max_points,
            "scores": {s: results[s].points for s in students if s in results},
            "parts": parts,
            "flags": [{"kind": kind, "count": len(lines), "lines": lines} for kind, lines in sorted(flags.items())],
            "written_answers": list(answers.values()),
            "similar": pairs, "problems": problems}


def part_names(results):
    """[(part name, its points)] in the assignment's order, as the results list them."""
    for result in results:
        if result.parts:
            return [(part.name, part.max_points) for part in result.parts]
    return []


# ---------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------

def png(figure):
    """The figure as a data: URI of a PNG, to embed in the page."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def score_histogram(report):
    figure, axes = plt.subplots(figsize=(7, 3))
    scores = list(report["scores"].values())
    top = report["max_points"]
    axes.hist(scores, bins=range(0, top + 2), align="left", color="#4878a8", edgecolor="white")
    axes.set_xlim(-1, top + 1)
    axes.set_xlabel(f"total points (of {top})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title("Total scores")
    return png(figure)


def not_done(cause):
    """Whether a diagnosis identifier says the part was not done: its stub raised, or what it defines is not there."""
    return cause.split("/", 1)[-1] in NOT_DONE


def parts_figure(report):
    """A bar per part: passed, not done, then the other failures split by cause (the most common coloured)."""
    parts = report["parts"]
    counts = Counter()
    for part in parts:
        counts.update({d["id"]: d["count"] for d in part["diagnoses"] if not not_done(d["id"])})
    shown = [cause for cause, _ in counts.most_common(SHOWN_CAUSES)]
    palette = [colour for number, colour in enumerate(plt.get_cmap("tab10").colors) if number not in (2, 7)]
    colours = dict(zip(shown, palette))  # tab10 without its green (passed) and its grey (other causes)
    figure, axes = plt.subplots(figsize=(9, 0.35 * len(parts) + 1.2))
    names = [part["part"] for part in parts][::-1]
    left = [0] * len(parts)
    count = lambda part, keep: sum(d["count"] for d in part["diagnoses"] if keep(d["id"]))  # noqa: E731
    for label, value_of, colour in [
            ("passed", lambda p: p["passed"], "#59a14f"),
            ("not done (the stub raised, or nothing defined)", lambda p: count(p, not_done), "#d9d9d9")] + [
            (cause, lambda p, c=cause: count(p, lambda d: d == c), colours[cause]) for cause in shown] + [
            ("other causes", lambda p: count(p, lambda d: d not in colours and not not_done(d)), "#7f7f7f")]:
        values = [value_of(part) for part in parts][::-1]
        if any(values):
            axes.barh(names, values, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, values)]
    axes.set_xlabel("graded submissions")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    axes.set_title("Each part: passed, and the failures by cause")
    return png(figure)


def pairs_figure(report, threshold):
    pairs = report["similar"][:20]
    figure, axes = plt.subplots(figsize=(7, 0.3 * len(pairs) + 1.2))
    axes.barh([f"{p['a']} / {p['b']}" for p in pairs][::-1], [p["score"] for p in pairs][::-1], color="#e15759")
    axes.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    axes.set_xlim(0, 1)
    axes.set_xlabel("similarity of the students' own code")
    axes.legend(loc="lower right", fontsize="small")
    axes.set_title("Similar pairs, most alike first")
    return png(figure)


# ---------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:0.3em 0.6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
table.wide{width:100%}table.wide td:last-child{font-size:0.85em}
pre{margin:0;font-size:0.85em;white-space:pre-wrap}.note{color:#555}img{max-width:100%}"""


def table(header, rows, numeric=(), code=(), wide=False):
    """An HTML table, every cell escaped: the columns numbered in numeric aligned right, those in code
    as preformatted lines; wide: as wide as the page, its last column in smaller type."""
    def cell(i, value):
        text = html.escape(str(value))
        return f"<td class=n>{text}</td>" if i in numeric else f"<td><pre>{text}</pre></td>" if i in code else \
            f"<td>{text}</td>"
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in header)
    body = "".join("<tr>" + "".join(cell(i, value) for i, value in enumerate(row)) + "</tr>" for row in rows)
    return f"<table{' class=wide' if wide else ''}><tr>{head}</tr>{body}</table>"


def located(lines):
    """Lines of a student's code (instructor/similarity.py's matches) under where they are."""
    return f"{lines['where']}, line {lines['line']}:\n{lines['code']}"


def page(report, threshold):
    """The report as one HTML page with its figures embedded."""
    e = html.escape
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title><style>{STYLE}</style>"
           "</head><body><h1>Class report</h1>"]
    out.append(table(["submissions", *report["statuses"]], [[report["students"], *report["statuses"].values()]],
                     numeric=range(len(report["statuses"]) + 1)))
    for problem in report["problems"]:
        out.append(f"<p class=note>{e(problem)}</p>")
    if not report["students"]:
        out.append("<p>No submissions: nothing to report.</p></body></html>")
        return "".join(out)
    if report["scores"]:
        out.append(f"<h2>Scores</h2><img alt='histogram of total scores' src='{score_histogram(report)}'>")
    if report["parts"]:
        out.append(f"<h2>Parts</h2><img alt='passed and failed by part' src='{parts_figure(report)}'>")
        rows = []
        for part in report["parts"]:
            causes = part["diagnoses"] or [{"id": "", "count": "", "example": ""}]
            for number, cause in enumerate(causes):
                rows.append([part["part"] if not number else "", part["graded"] if not number else "",
                             part["passed"] if not number else "", cause["id"], cause["count"], cause["example"]])
        out.append(table(["part", "graded", "passed", "cause of failure", "students", "one example"], rows,
                         numeric=(1, 2, 4), wide=True))
    out.append("<h2>Flags</h2>" + (table(["kind", "lines", "where"], [
        [flag["kind"], flag["count"], "\n".join(flag["lines"])] for flag in report["flags"]], numeric=(1,), code=(2,))
        if report["flags"] else "<p>No line was flagged.</p>"))
    out.append("<h2>Written answers</h2>" + (table(["question", "given", "missing"], [
        [a["question"], a["given"], a["missing"]] for a in report["written_answers"]], numeric=(1, 2))
        if report["written_answers"] else "<p>No written answers were read.</p>"))
    out.append(f"<h2>Similar work</h2><p class=note>Pairs whose own code (what stands in place of the handout's "
               f"stubs, and the cells they added) scores {threshold:g} or more. A pair is a place for a person to "
               "look, not a verdict.</p>")
    if report["similar"]:
        out.append(f"<img alt='similar pairs' src='{pairs_figure(report, threshold)}'>")
        for pair in report["similar"]:
            out.append(f"<h3>{e(pair['a'])} and {e(pair['b'])}: {pair['score']:.2f}</h3>")
            out.append(table([pair["a"], pair["b"]], [[located(m["a"]), located(m["b"])] for m in pair["matches"]],
                             code=(0, 1)))
    else:
        out.append("<p>No pair of students is that alike.</p>")
    return "".join(out) + "</body></html>"


def write_report(out_dir, students, submissions=None, threshold=similarity.THRESHOLD, reference=None):
    """Write class_report.json and class_report.html in out_dir over the results there; returns the report.

    students:    every student of the class (the results' names are added)
    submissions: {student: their submission} for the similar work; None to leave it out (the report says so)
    threshold:   the least similarity of a pair reported (instructor/similarity.py)
    reference:   the solution notebook the batch graded with (default A3_VAE.ipynb)
    """
    out_dir = Path(out_dir)
    students = sorted(set(students) | {path.stem for path in (out_dir / "results").glob("*.json")})
    results, problems = read_results(out_dir, students)
    pairs = []
    if submissions is None:
        problems.append("similar work was not looked for: the submissions folder is not known (give --submissions)")
    else:
        pairs, skipped = similarity.similar_pairs(submissions, threshold=threshold, reference=reference)
        problems += [f"{student}: not compared for similar work: {why}" for student, why in skipped.items()]
    max_points = sum(points for _, points in part_names(results.values()))
    report = summary(students, results, problems, pairs, max_points)
    report["similarity_threshold"] = threshold
    text = page(report, threshold)
    write_atomically(out_dir / "class_report.json", lambda f: f.write(json.dumps(report, indent=1).encode()),
                     "the class report's numbers")
    write_atomically(out_dir / "class_report.html", lambda f: f.write(text.encode()), "the class report")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("grades", type=Path, help="the folder grade_batch wrote (its results/ and batch.json)")
    parser.add_argument("--submissions", type=Path, default=None,
                        help=f"the folder of submissions (default: the one in GRADES/{BATCH_FILE})")
    parser.add_argument("--similarity-threshold", type=float, default=similarity.THRESHOLD,
                        help=f"report pairs at least this alike, 0 to 1 (default {similarity.THRESHOLD})")
    args = parser.parse_args(argv)
    if not (args.grades / "results").is_dir():
        parser.exit(2, f"{parser.prog}: error: {args.grades} holds no results/ folder: give the folder that "
                       "instructor.grade_batch wrote (its --out, grades/ by default)\n")
    if not 0 <= args.similarity_threshold <= 1:
        parser.exit(2, f"{parser.prog}: error: --similarity-threshold must be between 0 and 1\n")
    recorded = recorded_batch(args.grades)
    folder = args.submissions or recorded.get("submissions")
    if folder is not None and not Path(folder).is_dir():
        parser.exit(2, f"{parser.prog}: error: the submissions folder {folder} is not there\n")
    try:
        submissions = submissions_in(folder) if folder is not None else None
    except ValueError as err:  # two submissions of one student
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    reference = recorded.get("reference")
    report = write_report(args.grades, submissions or [], submissions, args.similarity_threshold,
                          reference if reference and Path(reference).is_file() else None)
    print(f"class report: {args.grades / 'class_report.html'} ({report['students']} students)")
    return 0


def recorded_batch(out_dir):
    """What grade_batch recorded in out_dir: {"submissions": folder, "reference": notebook}, or {} if nothing
    readable was."""
    try:
        recorded = json.loads((Path(out_dir) / BATCH_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


if __name__ == "__main__":
    sys.exit(main())
