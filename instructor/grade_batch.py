"""Grade a whole class: a folder of submissions into a CSV gradebook.

    python -m instructor.grade_batch SUBMISSIONS_DIR [--out DIR] [--jobs N] [--timeout SECONDS]
                                     [--regrade | --only NAME [--only NAME ...]]

SUBMISSIONS_DIR holds one folder, zip or notebook per student (named after the
student), each with the notebook and helpers.py (found as instructor/grade.py finds them:
another name, a nested folder or a zip is fine). Every submission is graded by instructor/grade.py
in a process of its own with a time limit, several at once (--jobs), so one
that loops forever, kills its kernel or fills memory gets its row and never
stops the batch. OUT_DIR (default: grades/ beside SUBMISSIONS_DIR) receives

    gradebook.csv        one row per student: status, the points of each part, total, the
                         identifier of why each failed part failed (diagnoses, e.g. log_q/missing-constant), notes
                         (what was graded when it was not A3_VAE.ipynb with its cell ids) and
                         flags (lines that reach for the grading machinery or use what the
                         rules forbid, for a person to read)
    reports/NAME.txt     the report for that student, with the reason of every failure and their points
    results/NAME.json    the full result (instructor/result.py), from which a rerun knows what is graded already;
                         its provenance holds the seed that replays the grading (python -m instructor.grade
                         SUBMISSION --seed SEED), for staff: the report does not show it
    results/history/NAME.TIME.json
                         each result a regrade replaced, TIME being when it was written (UTC, e.g.
                         20261204T193012Z)
    class_report.html    what the class got wrong, counted by cause, with pictures and similar work, over every
    class_report.json    result in OUT_DIR (instructor/class_report.py), and its numbers
    batch.json           the submissions folder, for instructor/class_report.py to find the students' code

Status is one of: graded, timed out, crashed, unreadable notebook, missing file,
several notebooks.
A rerun grades the students without a result yet, and regrades each whose submission changed
since their result: a result records the digest of the files it graded (instructor/submission.py),
which the batch compares with the files there now, and it names each student it regrades and why.
A result from before digests were recorded cannot be compared: it is kept as it is, and the batch
says how many there are; --only or --regrade regrades them. --only NAME (repeatable) regrades
exactly those students, changed or not, and grades no one else; --regrade regrades everyone.
Ctrl-C (or SIGTERM) stops the batch at once, the gradings under way included; what was
graded is kept, and the same command grades the rest.
The written answers are not scored here: the gradebook lists their maximum
points and the reports say whether each was answered.
"""
import argparse
import csv
import difflib
import io
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from instructor.class_report import BATCH_FILE, write_report
from instructor.grade import grade_isolated
from instructor.layout import default_reference, parts_of
from instructor.result import GradingResult
from instructor.similarity import THRESHOLD
from instructor.submission import digest, submissions_in
from instructor.supervision import stop_gradings, stop_on_sigterm
from vaekit.files import write_atomically

STATUSES = ("graded", "timed out", "crashed", "unreadable notebook", "missing file", "several notebooks")


def write_text(path, text, what):
    write_atomically(path, lambda f: f.write(text.encode()), what)


def grade_student(student, path, out_dir, reference, timeout, threads):
    """Grade one student's folder or zip and store its report and result; returns the result."""
    result = grade_isolated(path, reference, timeout, threads)
    report = [f"{student}: {result.status}", "", *result.report, "", result.summary()]
    write_text(out_dir / "reports" / f"{student}.txt", "\n".join(report) + "\n", "the report")
    keep_previous(out_dir, student)
    write_text(result_file(out_dir, student), result.to_json(), "the result")
    return result


def keep_previous(out_dir, student):
    """Move student's result, if there is one, to results/history/STUDENT.TIME.json, TIME being when it was
    written (its file's time, UTC): a regrade keeps what it replaces."""
    current = result_file(out_dir, student)
    if current.is_file():
        written = datetime.fromtimestamp(current.stat().st_mtime, timezone.utc)
        kept = out_dir / "results" / "history" / f"{student}.{written:%Y%m%dT%H%M%S}Z.json"
        kept.parent.mkdir(exist_ok=True)
        current.replace(kept)


def result_file(out_dir, student):
    return out_dir / "results" / f"{student}.json"


def stored_result(out_dir, student):
    """The GradingResult that grade_student stored for student."""
    return GradingResult.from_json(result_file(out_dir, student).read_text())


def to_grade(students, paths, out_dir, everyone=False, only=()):
    """Who this run grades: returns (the students to grade, a line for each student with a result who is
    regraded, saying why, how many results were kept uncompared for lack of a digest).

    By default the students without a result and those whose submission's digest is not their result's;
    everyone (--regrade) all students; only (--only) exactly those, changed or not.
    """
    todo, why, undigested = [], [], 0
    for student in dict.fromkeys(only) or students:  # a name given twice is graded once
        if not result_file(out_dir, student).is_file():
            todo.append(student)
        elif only:
            todo.append(student)
            why.append(f"regrading {student}: asked for with --only")
        elif everyone:
            todo.append(student)
        else:
            provenance = stored_result(out_dir, student).provenance
            if provenance is None:
                undigested += 1
            elif provenance.submission_digest != digest(paths[student]):
                todo.append(student)
                why.append(f"regrading {student}: the submission changed since its grading at "
                           f"{provenance.graded_at}")
    return todo, why, undigested


def unknown_students(names, students):
    """The error for the names given to --only that are no student of the folder, each with the students
    whose names are close, and the folder's students; "" when every name is a student's."""
    unknown = []
    for name in names:
        if name not in students:
            close = difflib.get_close_matches(name, students, n=3)
            unknown.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    if not unknown:
        return ""
    listed = ", ".join(students[:10]) + (f" and {len(students) - 10} more" if len(students) > 10 else "")
    return f"no student {', '.join(unknown)} in the submissions folder, whose students are {listed or 'none'}"


def gradebook(students, out_dir, reference):
    """gradebook.csv from the stored results: one row per student, a column per part."""
    parts = parts_of(nbformat.read(reference, as_version=4))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "status", *(f"{name} ({points})" for name, points in parts),
                     f"total ({sum(points for _, points in parts)})", "written answers given", "diagnoses", "notes",
                     "flags"])
    for student in students:
        result = stored_result(out_dir, student)
        earned = {part.name: part.points for part in result.parts}
        answered = sum(answer.words > 0 for answer in result.answers)
        writer.writerow([student, result.status, *(earned.get(name, 0) for name, _ in parts),
                         result.points, answered, "; ".join(part.diagnosis for part in result.parts if part.diagnosis),
                         "; ".join(line[len("note  "):] for line in result.notes),
                         "; ".join(f"{flag['where']}, line {flag['line']}: {flag['why']}" for flag in result.flags)])
    write_text(out_dir / "gradebook.csv", buffer.getvalue(), "the gradebook")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder with one sub-folder, zip or notebook per student")
    parser.add_argument("--out", type=Path, default=None, help="where the gradebook and reports go")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--regrade", action="store_true", help="grade every student again")
    which.add_argument("--only", action="append", default=[], metavar="NAME",
                       help="regrade this student (a name as in the submissions folder), and no one else; "
                            "repeat it for several")
    parser.add_argument("--reference", type=Path, default=None, help="the reference notebook (see grade.py)")
    parser.add_argument("--similarity-threshold", type=float, default=THRESHOLD,
                        help=f"the class report names pairs of students whose own code is at least this alike, "
                             f"0 to 1 (default {THRESHOLD})")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.exit(2, f"{parser.prog}: error: {args.submissions} is not a folder\n")
    if args.jobs < 1 or args.timeout <= 0:
        parser.exit(2, f"{parser.prog}: error: --jobs must be at least 1 and --timeout positive\n")
    if not 0 <= args.similarity_threshold <= 1:
        parser.exit(2, f"{parser.prog}: error: --similarity-threshold must be between 0 and 1\n")
    out_dir = args.out or args.submissions.parent / "grades"
    reference = args.reference or default_reference()
    try:
        paths = submissions_in(args.submissions)
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    students = sorted(paths)
    if unknown := unknown_students(args.only, students):
        parser.exit(2, f"{parser.prog}: error: --only: {unknown}\n")
    todo, why, undigested = to_grade(students, paths, out_dir, args.regrade, args.only)
    graded_before = sum(result_file(out_dir, s).is_file() for s in students if s not in todo)
    print(f"{len(students)} students, {graded_before} graded already, {len(todo)} to grade", *why, sep="\n")
    if undigested:
        print(f"results graded before digests were recorded, kept as they are: {undigested} "
              "(--only NAME or --regrade regrades them)")
    write_text(out_dir / BATCH_FILE, json.dumps({"submissions": str(args.submissions.resolve()),
                                                 "reference": str(Path(reference).resolve())}),
               "the record of what the batch graded")

    stop_on_sigterm()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)  # the cores shared out, not fought over
    pool, futures = ThreadPoolExecutor(max_workers=args.jobs), []
    try:
        futures = [pool.submit(grade_student, s, paths[s], out_dir, reference, args.timeout, threads)
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
    with_result = [s for s in students if result_file(out_dir, s).is_file()]  # --only may leave some without
    gradebook(with_result, out_dir, reference)
    counts = {status: 0 for status in STATUSES}
    for student in with_result:
        counts[stored_result(out_dir, student).status] += 1
    write_report(out_dir, students, paths, args.similarity_threshold, reference)
    print(f"gradebook: {out_dir / 'gradebook.csv'}; reports in {out_dir / 'reports'}; "
          f"class report: {out_dir / 'class_report.html'}")
    print(", ".join(f"{n} {status}" for status, n in counts.items() if n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
