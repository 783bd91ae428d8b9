"""A class handed in through Canvas and through Moodle, graded by grade_batch from the download as it is.

The class: alice hands in the solution, late on Canvas; bob forgets helpers.py; carol uploads the handout's
helpers.py, then her own again (Canvas names it helpers-1.py), with the lattice upside down in her notebook;
erin uploads only notes. dave is on the roster and hands in nothing. Each student must be graded as their
own folder is (tests/test_batch.py grades the lattice upside down at 32 of 34), bob never.
"""
import csv
import json
import subprocess
import sys

import nbformat
import pytest

from instructor.layout import handout_helpers
from tests.test_batch import GENEROUS_TIMEOUT_S, LATTICE_UPSIDE_DOWN, MAX_POINTS, ROOT, environment

ALL_POINTS = 40  # 34 automatic and three written answers of 2


def solution_notebook(edit=None):
    notebook = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    if edit:
        cell = next(c for c in notebook.cells if c.cell_type == "code" and edit[0] in c.source)
        cell.source = cell.source.replace(*edit)
    return nbformat.writes(notebook)


CLASS = {  # (LMS id, Canvas's name, Moodle's name, late on Canvas): [(file name as uploaded, text)], in upload order
    ("48213", "smithalice", "Alice Smith", True): [("A3_VAE.ipynb", solution_notebook()),
                                                  ("helpers.py", (ROOT / "helpers.py").read_text())],
    ("48214", "jonesbob", "Bob Jones", False): [("A3_VAE.ipynb", solution_notebook())],
    ("48215", "leecarol", "Carol Lee", False): [("A3_VAE.ipynb", solution_notebook(LATTICE_UPSIDE_DOWN)),
                                               ("helpers.py", handout_helpers()),
                                               ("helpers-1.py", (ROOT / "helpers.py").read_text())],
    ("48217", "kimerin", "Erin Kim", False): [("notes.txt", "I ran out of time")],
}


def canvas_download(folder):
    folder.mkdir(parents=True)
    for number, ((student_id, name, _, late), files) in enumerate(CLASS.items()):
        for attachment, (file_name, text) in enumerate(files):
            prefix = f"{name}_{'LATE_' if late else ''}{student_id}_{3301900 + 10 * number + attachment}"
            (folder / f"{prefix}_{file_name}").write_text(text)
    return folder


def moodle_download(folder):
    for (student_id, _, name, _), files in CLASS.items():
        submitted = folder / f"{name}_{student_id}_assignsubmission_file_"
        submitted.mkdir(parents=True)
        for file_name, text in files:  # Moodle keeps one file of a name: the last uploaded
            (submitted / file_name.replace("-1", "")).write_text(text)
    return folder


def grade(download, out, *options):
    run = subprocess.run([sys.executable, "-m", "instructor.grade_batch", str(download), "--out", str(out),
                          "--jobs", "2", "--timeout", str(GENEROUS_TIMEOUT_S), *options],
                         capture_output=True, text=True, env=environment(out.parent / "tmp"))
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def rows_of(path, key):
    with open(path, newline="") as f:
        return {row[key]: row for row in csv.DictReader(f) if row[key]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    top = tmp_path_factory.mktemp("lms")
    roster = top / "canvas_gradebook_export.csv"
    roster.write_text('Student,ID,SIS User ID,SIS Login ID,Section\n'
                      '    Points Possible,,,,\n'
                      '"Smith, Alice",48213,S1,asmith,Lab A\n"Jones, Bob",48214,S2,bjones,Lab A\n'
                      '"Lee, Carol",48215,S3,clee,Lab B\n"Park, Dave",48216,S4,dpark,Lab B\n'
                      '"Kim, Erin",48217,S5,ekim,Lab B\n')
    canvas = canvas_download(top / "canvas")
    before = {path.name: path.read_bytes() for path in canvas.iterdir()}
    canvas_out = top / "canvas-grades"
    canvas_stdout = grade(canvas, canvas_out, "--roster", str(roster), "--assignment", "A3 VAE (771)")
    assert {path.name: path.read_bytes() for path in canvas.iterdir()} == before, "the download is not changed"
    moodle = moodle_download(top / "moodle")
    moodle_out = top / "moodle-grades"
    moodle_stdout = grade(moodle, moodle_out)
    return canvas_out, canvas_stdout, moodle_out, moodle_stdout


def test_canvas_students_are_graded_as_their_folders_with_late_work_noted(graded):
    out, stdout, _, _ = graded
    rows = rows_of(out / "gradebook.csv", "id")
    assert {i: (row["student"], row["status"]) for i, row in rows.items()} == {
        "48213": ("smithalice_48213", "graded"), "48214": ("jonesbob_48214", "missing file"),
        "48215": ("leecarol_48215", "graded"), "48216": ("", "no submission"),
        "48217": ("kimerin_48217", "missing file")}
    assert rows["48213"]["late"] == "late" and rows["48215"]["late"] == ""
    assert rows["48213"][f"total ({MAX_POINTS})"] == str(MAX_POINTS)
    assert rows["48215"][f"total ({MAX_POINTS})"] == str(MAX_POINTS - 2) and rows["48215"]["lattice (5.4) (2)"] == "0"
    assert (rows["48213"]["name"], rows["48213"]["section"]) == ("Smith, Alice", "Lab A")
    grouped = out / "grouped" / "leecarol_48215"
    assert sorted(p.name for p in grouped.iterdir()) == ["A3_VAE.ipynb", "helpers.py"]
    assert (grouped / "helpers.py").read_text() == (ROOT / "helpers.py").read_text(), "the latest upload is taken"
    bob = json.loads((out / "results" / "jonesbob_48214.json").read_text())
    assert "no helpers.py" in bob["parts"][0]["reason"] and all(p["points"] == 0 for p in bob["parts"])
    assert [answer["words"] > 0 for answer in bob["answers"]] == [True] * 3, "bob's answers still reach a person"
    assert "jonesbob_48214: missing file: no helpers.py" in stdout
    assert "on the roster with no submission (1): Park, Dave (48216)" in stdout
    assert "late (1): Smith, Alice (48213)" in stdout


def test_the_same_class_from_moodle_gets_the_same_points(graded):
    canvas_out, _, out, stdout = graded
    rows = rows_of(out / "gradebook.csv", "id")
    assert {i: (row["student"], row["status"]) for i, row in rows.items()} == {
        "48213": ("Alice-Smith_48213", "graded"), "48214": ("Bob-Jones_48214", "missing file"),
        "48215": ("Carol-Lee_48215", "graded"), "48217": ("Erin-Kim_48217", "missing file")}
    for canvas_name, moodle_name in (("smithalice_48213", "Alice-Smith_48213"),
                                     ("leecarol_48215", "Carol-Lee_48215")):
        canvas = json.loads((canvas_out / "results" / f"{canvas_name}.json").read_text())
        moodle = json.loads((out / "results" / f"{moodle_name}.json").read_text())
        assert [(p["name"], p["points"]) for p in canvas["parts"]] == [(p["name"], p["points"]) for p in moodle["parts"]]


def test_the_exports_hold_one_total_that_takes_the_hand_graded_points(graded):
    out, _, _, _ = graded
    exported = list(csv.reader(open(out / "canvas_import.csv", newline="")))
    assert exported[:2] == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "A3 VAE (771)"],
                            ["Points Possible", "", "", "", "", str(ALL_POINTS)]]
    assert {row[1]: row[5] for row in exported[2:]} == {"48213": "34", "48214": "", "48215": "32", "48216": "",
                                                        "48217": ""}
    sheet = out / "answers" / "question-1-why-logits.csv"
    rows = list(csv.reader(open(sheet, newline="")))
    assert rows[0] == ["student", "id", "words", "points"]
    rows[1 + [r[0] for r in rows[1:]].index("smithalice_48213")][3] = "1.5"
    with open(sheet, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    done = subprocess.run([sys.executable, "-m", "instructor.answers", "import", str(out)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    exported = {row[1]: row[5] for row in csv.reader(open(out / "canvas_import.csv", newline=""))}
    assert exported["48213"] == "35.5" and exported["48215"] == "32"
    moodle = {row["Identifier"]: row for row in csv.DictReader(open(out / "moodle_import.csv", newline=""))}
    assert (moodle["Participant 48213"]["Grade"], moodle["Participant 48213"]["Maximum Grade"]) == ("35.5", "40")
    alice = rows_of(out / "gradebook.csv", "id")["48213"]
    assert (alice["question 1: why logits (2)"], alice[f"total ({ALL_POINTS})"]) == ("1.5", "35.5")


def test_a_rerun_grades_the_student_whose_helpers_came_late_and_keeps_the_rest(graded):
    out, _, _, _ = graded
    canvas = out.parent / "canvas"
    (canvas / "jonesbob_LATE_48214_3302000_helpers.py").write_text((ROOT / "helpers.py").read_text())
    graded_before = (out / "results" / "smithalice_48213.json").read_text()
    stdout = grade(canvas, out, "--roster", str(out.parent / "canvas_gradebook_export.csv"))
    assert "4 students, 3 graded already, 1 to grade" in stdout and "not graded" not in stdout
    assert (out / "results" / "smithalice_48213.json").read_text() == graded_before
    rows = rows_of(out / "gradebook.csv", "id")
    assert (rows["48214"]["status"], rows["48214"][f"total ({MAX_POINTS})"], rows["48214"]["late"]) == (
        "graded", str(MAX_POINTS), "late")
    exported = list(csv.reader(open(out / "canvas_import.csv", newline="")))
    assert exported[0][5] == "A3 VAE (771)", "the assignment is the last batch's"
    assert {row[1]: row[5] for row in exported}["48213"] == "35.5", "the points given by hand stay"
    assert {row[1]: row[5] for row in exported}["48214"] == str(MAX_POINTS)
