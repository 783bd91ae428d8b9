"""Submissions as learning management systems hand them out, a roster, and grades in the form they take back.

A class's submissions come in one of these layouts (grade_batch's --layout, --pattern):

    folders   one folder, zip or notebook per student, named after the student (instructor/submission.py)
    canvas    Canvas's "Download Submissions": one flat folder (or its zip) of files named
              lastfirst_[LATE_]userid_attachmentid_original-name, e.g. smithalice_LATE_48213_3301927_helpers.py;
              a file uploaded again under the same name gets -N before its extension (helpers-1.py): the
              highest N is taken; a text entry or a link comes as lastfirst_userid_text.html (_link.html)
    moodle    Moodle's "Download all submissions": a folder per student and plugin named
              Full Name_participantid_assignsubmission_file_ holding the student's files (or, as Moodle
              wrote it before 3.1, flat files named Full Name_participantid_assignsubmission_file_original-name)
    pattern   any other layout, as nbgrader's zip_collect reads one: a regular expression matched against
              the whole path of each file below the download (folders joined with /), with the named groups
              student_id (required), name, late (a late submission where it matched any text), file_id (the
              file's name in the student's submission; default the file's own name) and timestamp (several
              submissions of one student: only the files with the latest timestamp, compared as text, count)

"auto" tells canvas and moodle apart by their names, and takes a folder where no name is either as
folders; a download where only some names are Canvas's or Moodle's is refused. The LMS layouts
are grouped, each student's files copied (the download is not changed) into a folder of their own
named NAME_ID, which is then graded as a student's folder is. A student whose files cannot be
grouped, or who handed in no helpers.py, is not graded: their result has that status and
reason ("cannot be grouped", "missing file"), never a grade from the handout's helpers.py.

A roster (--roster) is a CSV file with a header row. Headers are matched without regard to case or
surrounding spaces: the id column is "id", "student id" or "identifier" (required: the LMS's id, which
Canvas and Moodle put in the names of the files; Moodle's grading worksheet writes "Participant 123",
read as 123); the name is "name", "student" or "full name"; and "section", "email" or "email address",
"sis user id" and "sis login id" are kept where given. So Canvas's gradebook export and Moodle's
grading worksheet are rosters as they are. Canvas's "Points Possible" row is skipped.

The exports hold one grade for the assignment, the automatic points plus the hand-graded ones entered:

    canvas_import.csv   Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, the
                        assignment's column (name it "Title (assignment id)" to update that assignment),
                        a Points Possible row, then a row per student, matched by Canvas on ID
    moodle_import.csv   Moodle's assignment grading worksheet (Upload grading worksheet): Identifier
                        ("Participant ID"), Full name, Email address, Grade, Maximum Grade and Last modified
                        (grade), the time of the export: Moodle keeps a grade changed there later

A student whose status is not "graded", or who handed nothing in, gets an empty grade: the LMS keeps
what it has, and a person decides.
"""
import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from instructor.grade import not_graded
from instructor.placement import Placement
from instructor.submission import HELPERS, SubmissionError, files_below, find, ignored, submissions_in
from vaekit.files import write_atomically

CANVAS = re.compile(r"(?P<name>[^/]+?)_(?:(?P<late>LATE)_)?(?P<student_id>\d+)(?:_(?P<attachment_id>\d+))?_"
                    r"(?P<file_id>[^/]+)")
MOODLE = re.compile(r"(?P<name>[^/]+)_(?P<student_id>\d+)_assignsubmission_[a-z]+_/?(?P<file_id>.+)")
LAYOUTS = {"moodle": MOODLE, "canvas": CANVAS}  # Moodle's older flat names are Canvas's too: Moodle's first
CHOICES = ("auto", "folders", "canvas", "moodle")
RESUBMITTED = re.compile(r"(?P<stem>.+)-(?P<number>\d+)(?P<suffix>\.[^.]*)?")  # Canvas's helpers-1.py
UNGROUPED, NO_SUBMISSION = "cannot be grouped", "no submission"
CLASS_COLUMNS = ("id", "name", "section", "late", "roster")  # the gradebook's columns from the LMS and the roster
ASSIGNMENT = "A3 VAE"  # the assignment's column in the Canvas export, unless grade_batch is told otherwise
MOODLE_PARTICIPANT = "Participant "  # Moodle's grading worksheet writes the id after this
ROSTER_HEADERS = {"id": ("id", "student id", "identifier"), "name": ("name", "student", "full name"),
                  "section": ("section",), "email": ("email", "email address"),
                  "sis_user_id": ("sis user id",), "sis_login_id": ("sis login id",)}
SHOWN = 5  # files named in a message


class LayoutError(ValueError):
    """The download cannot be read as the layout asked for (or as any, for auto); the message says why."""


@dataclass
class Person:
    """A student as the LMS and the roster know them; id is the LMS's (the folder's name for folders)."""
    id: str
    name: str = ""
    section: str = ""
    email: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    late: bool = False
    on_roster: bool | None = None  # None: no roster was given


@dataclass
class Intake:
    """What a download holds. folder: the folder of one submission per student (the download, or the
    folder its files were grouped into); paths: {student: the folder or file to grade}; people: {student:
    Person} of every student, graded or not; problems: {student: (status, why)} of those not to grade;
    ungrouped: [(path, why)] of the files that belong to no student; missing: the roster's people with no
    submission."""
    folder: Path
    paths: dict
    people: dict
    problems: dict = field(default_factory=dict)
    ungrouped: list = field(default_factory=list)
    missing: list = field(default_factory=list)


def layout_of(name, pattern):
    """The regular expression of the layout name (CHOICES), or of pattern; None for folders and auto.

    raises LayoutError for a pattern that does not compile or has no group student_id, or one given with
    a layout other than auto
    """
    if pattern is None:
        return LAYOUTS.get(name)
    if name != "auto":
        raise LayoutError(f"--pattern describes a layout of its own: give it without --layout {name}")
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise LayoutError(f"--pattern {pattern!r} is not a regular expression: {err}") from None
    if "student_id" not in compiled.groupindex:
        raise LayoutError(f"--pattern {pattern!r} has no group (?P<student_id>...): it must say whose each file is")
    return compiled


def listing(top):
    """The files below top as paths relative to it, with / between folders, leaving out what does not count."""
    return sorted(path.relative_to(top).as_posix() for path in files_below(top, "*"))


def detect(files):
    """The layout whose names all of files (relative paths) have, or None (folders) where none has any.

    raises LayoutError where some names are an LMS's and others are not
    """
    matching = {name: [path for path in files if regex.fullmatch(path)] for name, regex in LAYOUTS.items()}
    for name, regex in LAYOUTS.items():
        if files and len(matching[name]) == len(files):
            return regex
    for name, regex in LAYOUTS.items():
        if matching[name]:
            others = [path for path in files if not regex.fullmatch(path)]
            raise LayoutError(f"{len(matching[name])} of {len(files)} files are named as {name} names them, but "
                              f"not {', '.join(others[:SHOWN])}{' ...' if len(others) > SHOWN else ''}: remove "
                              "what is not the download, or give --layout")
    return None


def student_key(name, student_id):
    """The student's name in file names and the gradebook: NAME_ID, with anything odd in a file name as -."""
    return re.sub(r"[^\w.-]+", "-", f"{name}_{student_id}" if name else student_id).strip("-")


def group(files, regex, canvas=False):
    """Each student's files, from the relative paths files of a download in the layout regex.

    canvas: a name with -N before its extension is the N-th upload again of that name; the highest is taken
    returns ({student: Person}, {student: {name in the submission: path}}, {student: (status, why)} of
             those whose files cannot be grouped, [(path, why)] of the files of no student)
    """
    people, versions, ungrouped = {}, {}, []
    for path in files:
        match = regex.fullmatch(path)
        if match is None:
            ungrouped.append((path, f"its name is not one of the layout ({regex.pattern})"))
            continue
        found = match.groupdict()
        student_id = found["student_id"]
        name = found.get("file_id") or Path(path).name
        number = 0
        if canvas and (resubmitted := RESUBMITTED.fullmatch(name)):
            name, number = resubmitted["stem"] + (resubmitted["suffix"] or ""), int(resubmitted["number"])
        person = people.setdefault(student_id, Person(id=student_id, name=(found.get("name") or "").strip()))
        person.late = person.late or bool(found.get("late"))
        versions.setdefault(student_id, []).append((found.get("timestamp") or "", number, name, path))
    keys = {student_id: student_key(person.name, student_id) for student_id, person in people.items()}
    taken, problems = {}, {}
    for student_id, files_of in versions.items():
        latest = max(timestamp for timestamp, *_ in files_of)
        newest = {}  # {name in the submission: (its highest upload number, [the paths of that upload])}
        for timestamp, number, name, path in sorted(files_of):
            if timestamp != latest:
                continue
            if name not in newest or number > newest[name][0]:
                newest[name] = (number, [path])
            elif number == newest[name][0]:
                newest[name][1].append(path)
        clashes = [" and ".join(paths) for _, paths in newest.values() if len(paths) > 1]
        if clashes:
            problems[keys[student_id]] = (UNGROUPED, "several files would be the same file of the submission: "
                                          + "; ".join(clashes))
        taken[keys[student_id]] = {name: paths[0] for name, (_, paths) in newest.items()}
    return {keys[i]: person for i, person in people.items()}, taken, problems, ungrouped


def unpacked(download, scratch):
    """The folder of the download: itself, or a zip's contents unpacked into scratch.

    raises LayoutError for a zip that cannot be read
    """
    if Path(download).is_dir():
        return Path(download)
    try:
        with zipfile.ZipFile(download) as bundle:
            for info in bundle.infolist():
                if not info.is_dir() and not ignored(info.filename):
                    bundle.extract(info, scratch)  # zipfile drops absolute paths and '..' from the names
    except (zipfile.BadZipFile, OSError) as err:
        raise LayoutError(f"{download} is neither a folder nor a zip that can be read ({err})") from None
    return Path(scratch)


def take_in(download, grouped, layout="auto", pattern=None, roster=None):
    """The Intake of a download (a folder, or a zip for the LMS layouts) in layout (CHOICES) or pattern.

    grouped: the folder that receives each student's files, one folder each, for the LMS layouts and
             patterns (not for folders); what it held before is replaced
    roster:  {id: Person} (read_roster), or None
    raises LayoutError when the download cannot be read so
    """
    with tempfile.TemporaryDirectory(prefix="vae-download-") as scratch:
        top = unpacked(download, scratch)
        regex = layout_of(layout, pattern)
        if layout == "auto" and pattern is None:
            regex = detect(listing(top))
        if regex is None:
            if not Path(download).is_dir():
                raise LayoutError(f"{download}: a class of folders must be a folder, not a zip")
            paths = submissions_in(top)
            intake = Intake(folder=top, paths=paths, people={student: Person(id=student) for student in paths})
        else:
            people, taken, problems, ungrouped = group(listing(top), regex, canvas=regex is CANVAS)
            paths = copy_grouped(top, taken, Path(grouped))
            for student, path in paths.items():
                if student not in problems and lacks_helpers(path):
                    problems[student] = ("missing file", f"no {HELPERS} among the student's files "
                                                         f"({', '.join(sorted(taken[student]))})")
            intake = Intake(folder=Path(grouped), paths=paths, people=people, problems=problems,
                            ungrouped=ungrouped)
    if roster is not None:
        on_roster(intake, roster)
    return intake


def copy_grouped(top, taken, grouped):
    """Copy each student's files {name: path below top} into grouped/STUDENT/name; returns {student: folder}."""
    grouped.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f"{grouped.name}.", dir=grouped.parent))
    for student, files in taken.items():
        for name, path in files.items():
            (fresh / student / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(top / path, fresh / student / name)
    shutil.rmtree(grouped, ignore_errors=True)
    fresh.rename(grouped)
    return {student: grouped / student for student in taken}


def class_columns(person):
    """The person's cells in the gradebook's CLASS_COLUMNS."""
    return [person.id, person.name, person.section, "late" if person.late else "",
            "not on the roster" if person.on_roster is False else ""]


def ungraded(path, reference_path, status, why):
    """The GradingResult of a submission in path that is not graded, for why, with status: every part earns
    nothing; the written answers are recorded where its notebook can be read, for a person to grade."""
    reference = nbformat.read(reference_path, as_version=4)
    placement = None
    with tempfile.TemporaryDirectory(prefix="vae-answers-") as scratch:
        try:
            placement = Placement(reference, nbformat.read(find(path, scratch).notebook, as_version=4))
        except Exception:  # no single notebook, or one nbformat cannot read (it raises several kinds)
            pass
    return not_graded(status, reference, why, placement=placement)


def lacks_helpers(path):
    """Whether the submission in path has a notebook but no helpers.py (found as the grader finds them)."""
    with tempfile.TemporaryDirectory(prefix="vae-check-") as scratch:
        try:
            return find(path, scratch).helpers is None
        except (SubmissionError, OSError):  # no single notebook, or a broken zip: the grader says which
            return False


def on_roster(intake, roster):
    """Match the intake's students to the roster by id: each takes the roster's name, section and the rest;
    the roster's people without a submission become intake.missing."""
    for person in intake.people.values():
        entry = roster.get(person.id)
        person.on_roster = entry is not None
        if entry is not None:
            for key in ("name", "section", "email", "sis_user_id", "sis_login_id"):
                setattr(person, key, getattr(entry, key) or getattr(person, key))
    submitted = {person.id for person in intake.people.values()}
    intake.missing = [entry for student_id, entry in roster.items() if student_id not in submitted]


def read_roster(path):
    """{id: Person} from a roster CSV (see the module's docstring).

    raises LayoutError naming the file and row for no id column, an empty or repeated id
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark, as Excel writes, is fine
    except (OSError, UnicodeDecodeError) as err:
        raise LayoutError(f"--roster {path} cannot be read: {err}") from None
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    columns = {key: next((header.index(h) for h in accepted if h in header), None)
               for key, accepted in ROSTER_HEADERS.items()}
    if columns["id"] is None:
        raise LayoutError(f"--roster {path}: no id column; its header row must name one of "
                          f"{', '.join(ROSTER_HEADERS['id'])} (in any case), but holds "
                          f"{', '.join(header) or 'nothing'}")
    roster, rows = {}, {}
    for number, row in enumerate(reader, start=2):
        values = {key: row[index].strip() if index is not None and index < len(row) else ""
                  for key, index in columns.items()}
        if not any(cell.strip() for cell in row) or values["name"].startswith("Points Possible"):
            continue
        student_id = values["id"].removeprefix(MOODLE_PARTICIPANT).strip()
        if not student_id:
            raise LayoutError(f"--roster {path}, row {number}: the id is empty")
        if student_id in roster:
            raise LayoutError(f"--roster {path}, rows {rows[student_id]} and {number}: the same id {student_id}")
        roster[student_id], rows[student_id] = Person(**{**values, "id": student_id}), number
    return roster


def write_class(path, intake):
    """Keep the intake's people, problems, ungrouped files and missing students in the JSON file path, so
    that the gradebook and the exports can be written again from the grades folder alone (read_class)."""
    data = {"people": {student: asdict(person) for student, person in intake.people.items()},
            "problems": intake.problems, "ungrouped": intake.ungrouped,
            "missing": [asdict(person) for person in intake.missing]}
    write_atomically(path, lambda f: f.write(json.dumps(data, indent=1).encode()), "the class list")


def read_class(path):
    """The Intake that write_class kept (its paths empty)."""
    data = json.loads(Path(path).read_text())
    return Intake(folder=Path(), paths={},
                  people={student: Person(**person) for student, person in data["people"].items()},
                  problems={student: tuple(problem) for student, problem in data["problems"].items()},
                  ungrouped=[tuple(entry) for entry in data["ungrouped"]],
                  missing=[Person(**person) for person in data["missing"]])


def number(points):
    """Points as the LMSs read them: 38, 37.5."""
    return f"{points:g}"


def canvas_export(grades, assignment, max_points):
    """Canvas's gradebook import (CSV text) of grades [(Person, points or None)], in the column assignment."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    writer.writerow(["Points Possible", "", "", "", "", number(max_points)])
    for person, points in grades:
        writer.writerow([person.name, person.id, person.sis_user_id, person.sis_login_id, person.section,
                         "" if points is None else number(points)])
    return buffer.getvalue()


def moodle_export(grades, max_points, now=None):
    """Moodle's grading worksheet (CSV text) of grades [(Person, points or None)], last modified now (default:
    the present time)."""
    modified = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Last modified (grade)"])
    for person, points in grades:
        writer.writerow([f"{MOODLE_PARTICIPANT}{person.id}", person.name, person.email,
                         "" if points is None else number(points), number(max_points), modified])
    return buffer.getvalue()
