"""The written answers in one place: a page and a CSV per question, and the points a person gives them.

    python -m instructor.answers import GRADES_DIR

grade_batch writes, for each written question of the reference notebook (the markdown cells tagged
written-answer), into GRADES_DIR/answers/:

    SLUG.html   one self-contained page (no script, nothing fetched): the question as the handout asks it,
                then a row per student with their answer rendered from its Markdown by mistune (which
                nbconvert, in the environment, uses); its math is kept as the TeX the student wrote,
                in a box of its own ($...$ and $$...$$), since MathJax needs the network: a reader
                sees exactly what was written. Raw HTML in an answer is shown as text, images as their address.
    SLUG.csv    student, id, words, points: fill in the points column (blank: not graded yet)

SLUG is the question's name in lower case with - between words (question-1-why-logits). The
answers' text comes from each student's result (instructor/result.py's AnswerResult.text, taken where
the grader placed the student's cells), so a Colab copy without cell ids is read as it is graded, and
the pages need neither the download nor a second reading of the notebooks.

"import" reads the filled CSVs in GRADES_DIR/answers/ (keep their names) and checks them all first:
a student not in the batch, a student twice, points that are not a number or not between 0 and the
question's points are errors, each naming its file and row (the header is row 1), and then nothing
is written. Otherwise the points go to GRADES_DIR/hand_graded.json, and the gradebook and the LMS
exports are written again with them: a column per question and the total out of all the points.
A rerun of grade_batch writes the CSVs again with the points they hold, imported or not.
"""
import argparse
import csv
import html
import io
import json
import math
import re
import sys
from pathlib import Path

import mistune
import nbformat

from instructor.layout import is_written_answer, points_of, question_of
from vaekit.files import write_atomically

HAND_FILE = "hand_graded.json"  # {question: {student: points}}
FOLDER = "answers"
COLUMNS = ("student", "id", "words", "points")
STYLE = """body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.5em;vertical-align:top;text-align:left}
.math{font-family:monospace;background:#f4f4f8;padding:0 .2em}div.math{padding:.5em;white-space:pre-wrap}
.none{color:#888}.question{background:#f8f8f0;padding:.5em 1em}"""


class AnswersError(ValueError):
    """The filled CSVs cannot be imported; the message names every bad row."""


class SafeRenderer(mistune.HTMLRenderer):
    """Markdown as HTML with an image shown as its address, never fetched: the page stays self-contained."""

    def image(self, text, url, title=None):
        return f"<span class=none>[image {html.escape(text)}: {html.escape(url)}]</span>"


MARKDOWN = mistune.create_markdown(escape=True, renderer=SafeRenderer(escape=True),
                                   plugins=["math", "table", "strikethrough"])


def questions(reference):
    """[(name, points, the question's text)] of the written answers of the reference notebook, in order; the
    text is the markdown cell above the answer's, where the handout asks the question."""
    found = []
    for index, cell in enumerate(reference.cells):
        if is_written_answer(cell):
            above = reference.cells[index - 1] if index else None
            found.append((question_of(cell), points_of(cell),
                          above.source if above is not None and above.cell_type == "markdown" else ""))
    return found


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def hand_points(out_dir):
    """{question: {student: points}} imported so far ({} before any import)."""
    path = Path(out_dir) / HAND_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def answer_of(result, question):
    """The student's AnswerResult for question, or None when their result holds none (not graded)."""
    return next((answer for answer in result.answers if answer.name == question), None) if result else None


def page(question, points, prompt, rows):
    """The HTML page of one question. rows: [(student, id, answer or None, why there is none)]."""
    body = []
    for student, student_id, answer, why in rows:
        shown = (MARKDOWN(answer.text) if answer is not None and answer.text
                 else f"<p class=none>{html.escape('not answered' if answer is not None else why)}</p>")
        words = answer.words if answer is not None else ""
        body.append(f"<tr><td>{html.escape(student)}<br><small>{html.escape(student_id)}</small></td>"
                    f"<td>{words}</td><td>{shown}</td></tr>")
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{html.escape(question)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(question)} ({points:g} points)</h1>"
            f"<div class=question>{MARKDOWN(prompt)}</div><p>{len(rows)} students. Math is shown as the TeX "
            f"the student wrote. Give the points in {html.escape(slug(question))}.csv, then run "
            f"<code>python -m instructor.answers import GRADES_DIR</code>.</p>"
            f"<table><tr><th>student</th><th>words</th><th>answer</th></tr>{''.join(body)}</table></body></html>")


def points_in(path):
    """{student: the points cell as written} of an answers CSV, or None when it cannot be read as one."""
    try:
        reader = csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig")))
        return {row["student"]: (row["points"] or "").strip() for row in reader}
    except (OSError, UnicodeDecodeError, KeyError, csv.Error, TypeError):
        return None


def write_pages(out_dir, reference, students, results, people):
    """Write each question's page and CSV into out_dir/answers.

    students: every student, in order; results: {student: GradingResult or None}; people: {student: Person}
    (instructor/lms.py). A CSV already there keeps the points it holds (a person may be filling it in); one
    that cannot be read is left as it is. Returns [message] on the CSVs left so.
    """
    imported, messages = hand_points(out_dir), []
    for question, points, prompt in questions(reference):
        rows = []
        for student in students:
            result = results.get(student)
            why = f"no answer recorded: {result.status}" if result is not None else "not graded yet"
            rows.append((student, people[student].id, answer_of(result, question), why))
        folder = Path(out_dir) / FOLDER
        write_atomically(folder / f"{slug(question)}.html",
                         lambda f: f.write(page(question, points, prompt, rows).encode()), "an answers page")
        sheet = folder / f"{slug(question)}.csv"
        held = points_in(sheet) if sheet.is_file() else {}
        if held is None:
            messages.append(f"{sheet} cannot be read as an answers CSV ({', '.join(COLUMNS)}): left as it is")
            continue
        given = {student: f"{value:g}" for student, value in imported.get(question, {}).items()}
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for student, student_id, answer, _ in rows:
            writer.writerow([student, student_id, answer.words if answer is not None else 0,
                             held.get(student) or given.get(student, "")])
        write_atomically(sheet, lambda f: f.write(buffer.getvalue().encode()), "an answers CSV")
    return messages


def as_number(text):
    """The number written in text, or nan when it is none (nan compares false with every number)."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_filled(folder, reference, students):
    """{question: {student: points}} from the filled CSVs in folder, one per question named SLUG.csv.

    raises AnswersError naming every bad file and row: an unknown file, an unknown or repeated student,
    points that are not a number from 0 to the question's points
    """
    by_slug = {slug(name): (name, points) for name, points, _ in questions(reference)}
    known, errors, filled = set(students), [], {}
    for path in sorted(Path(folder).glob("*.csv")):
        if path.stem not in by_slug:
            errors.append(f"{path}: no question is named so; the questions' files are "
                          f"{', '.join(f'{s}.csv' for s in by_slug)}")
            continue
        question, most = by_slug[path.stem]
        try:
            reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
            missing = {"student", "points"} - set(reader.fieldnames or [])
            rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            errors.append(f"{path}: cannot be read ({err})")
            continue
        if missing:
            errors.append(f"{path}: no column {' or '.join(sorted(missing))}; the header row must be "
                          f"{','.join(COLUMNS)}")
            continue
        points, seen = filled.setdefault(question, {}), set()
        for number, row in enumerate(rows, start=2):
            student, value = (row["student"] or "").strip(), (row["points"] or "").strip()
            where = f"{path}, row {number}"
            if student not in known:
                errors.append(f"{where}: no student {student!r} in this batch")
                continue
            if student in seen:
                errors.append(f"{where}: {student} a second time")
            seen.add(student)
            if value and not 0 <= as_number(value) <= most:  # false for nan
                errors.append(f"{where} ({student}): points {value!r}; expected a number from 0 to {most:g}, "
                              "or nothing (not graded yet)")
            elif value:
                points[student] = as_number(value)
    if errors:
        raise AnswersError("nothing was imported:\n" + "\n".join(errors))
    return filled


def import_answers(out_dir):
    """Import the filled CSVs of out_dir/answers into out_dir/hand_graded.json, then write the gradebook and
    the exports again with them; returns {question: how many students have points}."""
    from instructor.grade_batch import recorded_class, write_grades  # grade_batch imports this module

    reference_path, intake = recorded_class(out_dir)
    reference = nbformat.read(reference_path, as_version=4)
    filled = {**hand_points(out_dir), **read_filled(Path(out_dir) / FOLDER, reference, intake.people)}
    write_atomically(Path(out_dir) / HAND_FILE, lambda f: f.write(json.dumps(filled, indent=1).encode()),
                     "the hand-graded points")
    write_grades(out_dir, reference_path, intake)
    return {question: len(points) for question, points in filled.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    importing = commands.add_parser("import", help="import the points of the filled CSVs in GRADES_DIR/answers")
    importing.add_argument("grades", type=Path, help="the folder grade_batch wrote (its --out, grades/ by default)")
    args = parser.parse_args(argv)
    if not (args.grades / FOLDER).is_dir():
        parser.exit(2, f"{parser.prog}: error: {args.grades} holds no {FOLDER}/ folder: give the folder that "
                       "instructor.grade_batch wrote\n")
    try:
        counts = import_answers(args.grades)
    except (AnswersError, OSError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    for question, count in counts.items():
        print(f"{question}: points for {count} students")
    print(f"gradebook and LMS exports written again in {args.grades}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
