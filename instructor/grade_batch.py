"""Grade a whole class: a folder of submissions into a CSV gradebook.

    python -m instructor.grade_batch SUBMISSIONS_DIR [--out DIR] [--jobs N] [--timeout SECONDS] [--sandbox MODE]

SUBMISSIONS_DIR holds one folder, zip or notebook per student (named after the
student), each with the notebook and helpers.py (found as instructor/grade.py finds them:
another name, a nested folder or a zip is fine). Every submission is graded by instructor/grade.py
in a process of its own with a time limit, several at once (--jobs), so one
that loops forever, kills its kernel or fills memory gets its row and never
stops the batch; the student's code runs in instructor/grade.py's sandbox (--sandbox). OUT_DIR (default: grades/ beside SUBMISSIONS_DIR) receives

    gradebook.csv        one row per student: status, the points of each part, total, notes
                         (what was graded when it was not A3_VAE.ipynb with its cell ids) and
                         flags (lines that reach for the grading machinery or use what the
                         rules forbid, for a person to read)
    reports/NAME.txt     the report for that student, with the reason of every failure
    results/NAME.json    the full result (instructor/result.py), from which a rerun knows what is graded already

Status is one of: graded, timed out, crashed, unreadable notebook, missing file,
several notebooks.
A rerun grades only the students without a result yet (or all, with --regrade).
Ctrl-C (or SIGTERM) stops the batch at once, the gradings under way included; what was
graded is kept, and the same command grades the rest.
The written answers are not scored here: the gradebook lists their maximum
points and the reports say whether each was answered.
"""
import argparse
import csv
import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from instructor.grade import grade_isolated
from instructor.layout import default_reference, parts_of
from instructor.result import GradingResult
from instructor.sandbox import MODES, SandboxError, choose
from instructor.supervision import stop_gradings, stop_on_sigterm
from vaekit.files import write_atomically

STATUSES = ("graded", "timed out", "crashed", "unreadable notebook", "missing file", "several notebooks")


def write_text(path, text, what):
    write_atomically(path, lambda f: f.write(text.encode()), what)


def grade_student(student, path, out_dir, reference, timeout, threads, sandbox="auto"):
    """Grade one student's folder or zip (in the sandbox as sandbox says: see instructor/grade.py) and store its
    report and result; returns the result."""
    result = grade_isolated(path, reference, timeout, threads, sandbox=sandbox)
    header = f"{student}: {result.status}, {result.points} points\n\n"
    write_text(out_dir / "reports" / f"{student}.txt", header + "\n".join(result.report) + "\n", "the report")
    write_text(result_file(out_dir, student), result.to_json(), "the result")
    return result


def result_file(out_dir, student):
    return out_dir / "results" / f"{student}.json"


def stored_result(out_dir, student):
    """The GradingResult that grade_student stored for student."""
    return GradingResult.from_json(result_file(out_dir, student).read_text())


def submissions_in(folder):
    """{student: their submission} in the batch's folder: a folder, a zip or a notebook named after the student."""
    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not (path.is_dir() or path.suffix.lower() in (".zip", ".ipynb")):
            continue
        student = path.name if path.is_dir() else path.stem
        if student in found:
            raise ValueError(f"{student} has two submissions in {folder} ({found[student].name} and {path.name}); "
                             "keep one")
        found[student] = path
    return found


def gradebook(students, out_dir, reference):
    """gradebook.csv from the stored results: one row per student, a column per part."""
    parts = parts_of(nbformat.read(reference, as_version=4))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "status", *(f"{name} ({points})" for name, points in parts),
                     f"total ({sum(points for _, points in parts)})", "written answers given", "notes", "flags"])
    for student in students:
        result = stored_result(out_dir, student)
        earned = {part.name: part.points for part in result.parts}
        answered = sum(answer.words > 0 for answer in result.answers)
        writer.writerow([student, result.status, *(earned.get(name, 0) for name, _ in parts),
                         result.points, answered,
                         "; ".join(line[len("note  "):] for line in result.notes),
                         "; ".join(f"{flag['where']}, line {flag['line']}: {flag['why']}" for flag in result.flags)])
    write_text(out_dir / "gradebook.csv", buffer.getvalue(), "the gradebook")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder with one sub-folder, zip or notebook per student")
    parser.add_argument("--out", type=Path, default=None, help="where the gradebook and reports go")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
    parser.add_argument("--regrade", action="store_true", help="grade every student again")
    parser.add_argument("--reference", type=Path, default=None, help="the reference notebook (see grade.py)")
    parser.add_argument("--sandbox", choices=MODES, default="auto",
                        help="run the student's code in bubblewrap's sandbox: where it can run (auto, the "
                             "default), always (required: refuse where it cannot), or never (off)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.exit(2, f"{parser.prog}: error: {args.submissions} is not a folder\n")
    if args.jobs < 1 or args.timeout <= 0:
        parser.exit(2, f"{parser.prog}: error: --jobs must be at least 1 and --timeout positive\n")
    try:
        choose(args.sandbox)
    except SandboxError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    out_dir = args.out or args.submissions.parent / "grades"
    reference = args.reference or default_reference()
    try:
        paths = submissions_in(args.submissions)
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    students = sorted(paths)
    todo = [s for s in students if args.regrade or not result_file(out_dir, s).is_file()]
    print(f"{len(students)} students, {len(students) - len(todo)} graded already, {len(todo)} to grade")

    stop_on_sigterm()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)  # the cores shared out, not fought over
    pool, futures = ThreadPoolExecutor(max_workers=args.jobs), []
    try:
        futures = [pool.submit(grade_student, s, paths[s], out_dir, reference, args.timeout, threads, args.sandbox)
                   for s in todo]
        for future in tqdm(as_completed(futures), total=len(futures), desc="submissions"):
            future.result()
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_gradings()
        pool.shutdown(wait=True)  # the gradings under way end without a result
        graded = sum(future.done() and not future.cancelled() and future.exception() is None for future in futures)
        print(f"\nstopped: {graded} of {len(todo)} graded in this run are kept; "
              "the same command grades the rest", file=sys.stderr)
        return 130
    pool.shutdown()
    gradebook(students, out_dir, reference)
    counts = {status: 0 for status in STATUSES}
    for student in students:
        counts[stored_result(out_dir, student).status] += 1
    print(f"gradebook: {out_dir / 'gradebook.csv'}; reports in {out_dir / 'reports'}")
    print(", ".join(f"{n} {status}" for status, n in counts.items() if n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
