"""Grade a whole class: a folder of submissions into a CSV gradebook.

    python -m instructor.grade_batch SUBMISSIONS_DIR [--out DIR] [--jobs N] [--timeout SECONDS] [--sandbox MODE]
                                     [--layout auto|folders|canvas|moodle | --pattern REGEX] [--roster CSV]
                                     [--assignment NAME] [--regrade | --only NAME [--only NAME ...]]

SUBMISSIONS_DIR holds one folder, zip or notebook per student (named after the
student), each with the notebook and helpers.py (found as instructor/grade.py finds them:
another name, a nested folder or a zip is fine); or it is an LMS's download, a folder or
its zip, as Canvas or Moodle writes it or as --pattern describes it (instructor/lms.py):
each student's files are then grouped into a folder of their own, keeping the LMS's id
and whether the work was late, and a student whose helpers.py is missing or whose files
cannot be grouped gets that status, listed at the end, and no grade. Every submission is graded by instructor/grade.py
in a process of its own with a time limit, several at once (--jobs), so one
that loops forever, kills its kernel or fills memory gets its row and never
stops the batch; the student's code runs in instructor/grade.py's sandbox (--sandbox). OUT_DIR (default: grades/ beside SUBMISSIONS_DIR) receives

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
    class.json           each student's id, name, section and lateness, the roster's students with no submission
    grouped/NAME_ID/     each student's files from an LMS's download, as graded
    canvas_import.csv    the grades in Canvas's and Moodle's import formats: one total per student, the
    moodle_import.csv    automatic points and the hand-graded ones once imported (instructor/lms.py)
    answers/QUESTION.*   each written question's answers on one page, and a CSV for their points
                         (python -m instructor.answers import OUT_DIR takes them in; instructor/answers.py)

Status is one of: graded, timed out, crashed, unreadable notebook, missing file,
several notebooks, cannot be grouped; and no submission, for a student of the roster (--roster)
who handed nothing in. The gradebook's first columns are the student's name in the batch and
their id, name, section, late and roster (a submission not on the roster is flagged so).
A rerun grades the students without a result yet, and regrades each whose submission changed
since their result: a result records the digest of the files it graded (instructor/submission.py),
which the batch compares with the files there now, and it names each student it regrades and why;
a student who could not be graded last time (a file missing) is tried again.
A result from before digests were recorded cannot be compared: it is kept as it is, and the batch
says how many there are; --only or --regrade regrades them. --only NAME (repeatable) regrades
exactly those students, changed or not, and grades no one else; --regrade regrades everyone.
Ctrl-C (or SIGTERM) stops the batch at once, the gradings under way included; what was
graded is kept, and the same command grades the rest.
The written answers are not scored here: the gradebook has a column per question for the points
a person gives (instructor/answers.py), and the total of all the assignment's points.
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

from instructor import answers, lms
from instructor.class_report import BATCH_FILE, recorded_batch, write_report
from instructor.grade import grade_isolated
from instructor.layout import default_reference, parts_of
from instructor.result import CREDIT, WITHHOLD, GradingResult
from instructor.sandbox import MODES, SandboxError, choose
from instructor.similarity import THRESHOLD
from instructor.submission import digest
from instructor.supervision import stop_gradings, stop_on_sigterm
from vaekit.files import write_atomically

STATUSES = ("graded", "timed out", "crashed", "unreadable notebook", "missing file", "several notebooks",
            lms.UNGROUPED)
CLASS_FILE, GROUPED = "class.json", "grouped"  # the students as the LMS and the roster know them; their files


def write_text(path, text, what):
    write_atomically(path, lambda f: f.write(text.encode()), what)


def grade_student(student, path, out_dir, reference, timeout, threads, carry_forward=CREDIT, sandbox="auto"):
    """Grade one student's folder or zip (in the sandbox as sandbox says: see instructor/grade.py) and store its
    report and result, keeping the result it replaces; returns the result."""
    result = grade_isolated(path, reference, timeout, threads, carry_forward=carry_forward, sandbox=sandbox)
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


def gradebook(students, out_dir, reference, intake):
    """gradebook.csv from the stored results: one row per student, a column per part; the LMS's id and the
    roster's name (intake, instructor/lms.py), the points a person gave each written answer once imported
    (instructor/answers.py) and the total of all; then a row for each student of the roster with no
    submission and each file of the download that belongs to no student. Returns [(Person, the total to
    export, or None where a person must decide)]."""
    notebook = nbformat.read(reference, as_version=4)
    parts, asked, hand = parts_of(notebook), answers.questions(notebook), answers.hand_points(out_dir)
    header = ["student", *lms.CLASS_COLUMNS, "status", *(f"{name} ({points})" for name, points in parts),
              f"total ({sum(points for _, points in parts)})", *(f"{name} ({points})" for name, points, _ in asked),
              f"total ({max_points(notebook)})", "written answers given", "diagnoses", "notes", "flags"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    grades = []
    for student in students:
        result = stored_result(out_dir, student)
        earned = {part.name: part.points for part in result.parts}
        answered = sum(answer.words > 0 for answer in result.answers)
        by_hand = [hand.get(name, {}).get(student) for name, _, _ in asked]
        total = result.points + sum(points for points in by_hand if points is not None)
        person = intake.people[student]
        grades.append((person, total if result.status == "graded" else None))
        writer.writerow([student, *lms.class_columns(person), result.status,
                         *(earned.get(name, 0) for name, _ in parts), result.points,
                         *("" if points is None else lms.number(points) for points in by_hand), lms.number(total),
                         answered, "; ".join(part.diagnosis for part in result.parts if part.diagnosis),
                         "; ".join(line[len("note  "):] for line in result.notes),
                         "; ".join(f"{flag['where']}, line {flag['line']}: {flag['why']}" for flag in result.flags)])
    for person in intake.missing:
        grades.append((person, None))
        writer.writerow(padded(["", *lms.class_columns(person), lms.NO_SUBMISSION], header))
    for path, why in intake.ungrouped:
        writer.writerow(padded([path, *lms.class_columns(lms.Person(id="")), lms.UNGROUPED], header, notes=why))
    write_text(out_dir / "gradebook.csv", buffer.getvalue(), "the gradebook")
    return grades


# --- The LMS's layouts, the roster, the exports and the written answers (instructor/lms.py, answers.py) ---

def padded(row, header, notes=""):
    """A gradebook row of a student without a result: its first cells, empty ones, and notes in its column."""
    row = row + [""] * (len(header) - len(row))
    row[header.index("notes")] = notes
    return row


def max_points(notebook):
    """All the assignment's points: the automatic parts' and the written answers'."""
    return sum(points for _, points in parts_of(notebook)) + sum(points for _, points, _ in answers.questions(notebook))


def write_grades(out_dir, reference, intake):
    """The gradebook, the LMS exports and the written answers' pages and CSVs, from the stored results of
    every student of intake and the assignment's name in batch.json; returns the messages on answers CSVs
    that were left as they were."""
    students = [student for student in sorted(intake.people) if result_file(out_dir, student).is_file()]
    grades = gradebook(students, out_dir, reference, intake)
    notebook = nbformat.read(reference, as_version=4)
    assignment = recorded_batch(out_dir).get("assignment", lms.ASSIGNMENT)
    write_text(out_dir / "canvas_import.csv", lms.canvas_export(grades, assignment, max_points(notebook)),
               "the Canvas export")
    write_text(out_dir / "moodle_import.csv", lms.moodle_export(grades, max_points(notebook)), "the Moodle export")
    results = {student: stored_result(out_dir, student) for student in students}
    return answers.write_pages(out_dir, notebook, students, results, intake.people)


def recorded_class(out_dir):
    """(the reference notebook, the Intake) that the last batch recorded in out_dir."""
    recorded = recorded_batch(out_dir)
    if "reference" not in recorded or not (Path(out_dir) / CLASS_FILE).is_file():
        raise FileNotFoundError(f"{out_dir} holds no {BATCH_FILE} and {CLASS_FILE}: run grade_batch first")
    return recorded["reference"], lms.read_class(Path(out_dir) / CLASS_FILE)


def take_in(args, out_dir, reference):
    """The Intake of the download (instructor/lms.py), the roster matched; the students whose files cannot be
    graded get their result now, with their written answers where their notebook can be read."""
    roster = lms.read_roster(args.roster) if args.roster else None
    intake = lms.take_in(args.submissions, out_dir / GROUPED, args.layout, args.pattern, roster)
    for student, (status, why) in intake.problems.items():
        result = lms.ungraded(intake.paths[student], reference, status, why)
        report = f"{student}: {status}\n\n" + "\n".join(result.report) + "\n"
        write_text(out_dir / "reports" / f"{student}.txt", report, "the report")
        write_text(result_file(out_dir, student), result.to_json(), "the result")
    return intake


def print_class(intake, messages):
    """What a person must look at, at the end of the batch."""
    lines = [f"  {student}: {status}: {why}" for student, (status, why) in sorted(intake.problems.items())]
    lines += [f"  {path}: {lms.UNGROUPED}: {why}" for path, why in intake.ungrouped]
    if lines:
        print("not graded (the gradebook's status column says so):\n" + "\n".join(lines))
    for what, people in (("on the roster with no submission", intake.missing),
                         ("not on the roster", [p for p in intake.people.values() if p.on_roster is False]),
                         ("late", [p for p in intake.people.values() if p.late])):
        if people:
            print(f"{what} ({len(people)}): " + ", ".join(f"{p.name} ({p.id})" if p.name else p.id for p in people))
    for message in messages:
        print(message)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path,
                        help="folder with one sub-folder, zip or notebook per student, or an LMS's download "
                             "(a folder or zip; see --layout)")
    parser.add_argument("--layout", choices=lms.CHOICES, default="auto",
                        help="how the submissions are laid out: folders (one per student), canvas, moodle, or auto "
                             "(default: canvas or moodle where every file is named so, else folders)")
    parser.add_argument("--pattern", default=None,
                        help="a layout of its own: a regular expression matched against each file's path in the "
                             "download, with the named groups student_id and optionally name, late, file_id and "
                             "timestamp (as nbgrader's zip_collect)")
    parser.add_argument("--roster", type=Path, default=None,
                        help="CSV of the class: columns id (or student id, identifier), name (or student, full "
                             "name), section (optional); Canvas's gradebook export and Moodle's grading worksheet "
                             "are rosters as they are")
    parser.add_argument("--assignment", default=None,
                        help=f"the assignment's column in canvas_import.csv (default: the last batch's, else "
                             f"{lms.ASSIGNMENT!r}); 'Title (assignment id)' updates that Canvas assignment")
    parser.add_argument("--out", type=Path, default=None, help="where the gradebook and reports go")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--regrade", action="store_true", help="grade every student again")
    which.add_argument("--only", action="append", default=[], metavar="NAME",
                       help="regrade this student (a name as in the submissions folder), and no one else; "
                            "repeat it for several")
    parser.add_argument("--reference", type=Path, default=None, help="the reference notebook (see grade.py)")
    parser.add_argument("--carry-forward", choices=(CREDIT, WITHHOLD), default=CREDIT,
                        help="a part right given the student's own earlier parts, which fail: credit it (default) "
                             "or withhold its points (see instructor/grade.py)")
    parser.add_argument("--similarity-threshold", type=float, default=THRESHOLD,
                        help=f"the class report names pairs of students whose own code is at least this alike, "
                             f"0 to 1 (default {THRESHOLD})")
    parser.add_argument("--sandbox", choices=MODES, default="auto",
                        help="run the student's code in bubblewrap's sandbox: where it can run (auto, the "
                             "default), always (required: refuse where it cannot), or never (off)")
    args = parser.parse_args(argv)
    if not args.submissions.exists():
        parser.exit(2, f"{parser.prog}: error: {args.submissions} is not there\n")
    if args.jobs < 1 or args.timeout <= 0:
        parser.exit(2, f"{parser.prog}: error: --jobs must be at least 1 and --timeout positive\n")
    if not 0 <= args.similarity_threshold <= 1:
        parser.exit(2, f"{parser.prog}: error: --similarity-threshold must be between 0 and 1\n")
    try:
        choose(args.sandbox)
    except SandboxError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    out_dir = args.out or args.submissions.parent / "grades"
    reference = args.reference or default_reference()
    previous = lms.read_class(out_dir / CLASS_FILE).problems if (out_dir / CLASS_FILE).is_file() else {}
    try:
        intake = take_in(args, out_dir, reference)
    except ValueError as err:  # lms.LayoutError, or a student with two submissions
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    lms.write_class(out_dir / CLASS_FILE, intake)
    paths, students = intake.paths, sorted(intake.paths)
    if unknown := unknown_students(args.only, students):
        parser.exit(2, f"{parser.prog}: error: --only: {unknown}\n")
    gradable = [s for s in students if s not in intake.problems]
    todo, why, undigested = to_grade(gradable, paths, out_dir, args.regrade, args.only)
    todo = [s for s in todo if s not in intake.problems]
    if not args.only:  # a student whose files were missing or could not be grouped last time, now fixed
        todo += [s for s in gradable if s in previous and s not in todo]
    graded_before = sum(result_file(out_dir, s).is_file() for s in gradable if s not in todo)
    print(f"{len(students)} students, {graded_before} graded already, {len(todo)} to grade"
          + (f", {len(intake.problems)} that cannot be (listed at the end)" if intake.problems else ""),
          *why, sep="\n")
    if undigested:
        print(f"results graded before digests were recorded, kept as they are: {undigested} "
              "(--only NAME or --regrade regrades them)")
    assignment = args.assignment or recorded_batch(out_dir).get("assignment", lms.ASSIGNMENT)
    write_text(out_dir / BATCH_FILE, json.dumps({"submissions": str(intake.folder.resolve()),
                                                 "reference": str(Path(reference).resolve()),
                                                 "assignment": assignment}),
               "the record of what the batch graded")

    stop_on_sigterm()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)  # the cores shared out, not fought over
    pool, futures = ThreadPoolExecutor(max_workers=args.jobs), []
    try:
        futures = [pool.submit(grade_student, s, paths[s], out_dir, reference, args.timeout, threads,
                               args.carry_forward, args.sandbox) for s in todo]
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
    messages = write_grades(out_dir, reference, intake)
    with_result = [s for s in students if result_file(out_dir, s).is_file()]  # --only may leave some without
    counts = {status: 0 for status in STATUSES}
    for student in with_result:
        counts[stored_result(out_dir, student).status] += 1
    write_report(out_dir, students, paths, args.similarity_threshold, reference)
    print(f"gradebook: {out_dir / 'gradebook.csv'}; reports in {out_dir / 'reports'}; "
          f"class report: {out_dir / 'class_report.html'}")
    print(", ".join(f"{n} {status}" for status, n in counts.items() if n))
    print_class(intake, messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
