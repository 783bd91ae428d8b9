"""Reading LMS downloads and rosters, and writing the LMS exports: small files, no grading."""
import csv
import io
import zipfile
from datetime import datetime, timezone

import pytest

from instructor import lms
from instructor.lms import LayoutError, Person


def write(folder, files):
    """files: {relative path: text}, written below folder; returns folder."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def contents(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


CANVAS = {
    "smithalice_LATE_48213_3301927_A3_VAE.ipynb": "alice's notebook",
    "smithalice_LATE_48213_3301928_helpers.py": "alice's helpers",
    "o_brienconan_48214_3301930_Copy of A3_VAE.ipynb": "conan's notebook",
    "o_brienconan_48214_3301931_helpers.py": "conan's first helpers",
    "o_brienconan_48214_3301935_helpers-2.py": "conan's third helpers",
    "o_brienconan_48214_3301933_helpers-1.py": "conan's second helpers",
    "leecarol_48215_3301940_A3_VAE.ipynb": "carol's notebook",
    "leecarol_48215_text.html": "carol's text entry",
}


def test_canvas_files_are_grouped_by_student_the_latest_upload_taken_and_lateness_kept(tmp_path):
    download = write(tmp_path / "download", CANVAS)
    intake = lms.take_in(download, grouped=tmp_path / "grouped")
    assert contents(tmp_path / "download") == CANVAS, "the download is not changed"
    assert intake.folder == tmp_path / "grouped"
    assert contents(intake.folder) == {
        "smithalice_48213/A3_VAE.ipynb": "alice's notebook", "smithalice_48213/helpers.py": "alice's helpers",
        "o_brienconan_48214/Copy of A3_VAE.ipynb": "conan's notebook",
        "o_brienconan_48214/helpers.py": "conan's third helpers",
        "leecarol_48215/A3_VAE.ipynb": "carol's notebook", "leecarol_48215/text.html": "carol's text entry"}
    assert {s: (p.id, p.name, p.late) for s, p in intake.people.items()} == {
        "smithalice_48213": ("48213", "smithalice", True), "o_brienconan_48214": ("48214", "o_brienconan", False),
        "leecarol_48215": ("48215", "leecarol", False)}
    assert intake.problems == {"leecarol_48215": ("missing file", "no helpers.py among the student's files "
                                                                  "(A3_VAE.ipynb, text.html)")}
    assert intake.paths == {s: tmp_path / "grouped" / s for s in intake.people}


def test_a_zip_is_read_as_its_folder(tmp_path):
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as bundle:
        for name, text in CANVAS.items():
            bundle.writestr(name, text)
        bundle.writestr("__MACOSX/._x", "resource fork")
    from_zip = lms.take_in(tmp_path / "submissions.zip", grouped=tmp_path / "a")
    from_folder = lms.take_in(write(tmp_path / "download", CANVAS), grouped=tmp_path / "b")
    assert contents(tmp_path / "a") == contents(tmp_path / "b") and from_zip.people == from_folder.people


def test_moodle_folders_and_its_older_flat_names_are_grouped(tmp_path):
    download = write(tmp_path / "download", {
        "Alice Smith_1001_assignsubmission_file_/A3_VAE.ipynb": "alice's notebook",
        "Alice Smith_1001_assignsubmission_file_/code/helpers.py": "alice's helpers",
        "Alice Smith_1001_assignsubmission_onlinetext_/onlinetext.html": "<p>hi</p>",
        "Bob Jones_1002_assignsubmission_file_A3_VAE.ipynb": "bob's notebook",
        "Bob Jones_1002_assignsubmission_file_helpers.py": "bob's helpers"})
    intake = lms.take_in(download, grouped=tmp_path / "grouped")
    assert contents(intake.folder) == {
        "Alice-Smith_1001/A3_VAE.ipynb": "alice's notebook", "Alice-Smith_1001/code/helpers.py": "alice's helpers",
        "Alice-Smith_1001/onlinetext.html": "<p>hi</p>",
        "Bob-Jones_1002/A3_VAE.ipynb": "bob's notebook", "Bob-Jones_1002/helpers.py": "bob's helpers"}
    assert {s: (p.id, p.name, p.late) for s, p in intake.people.items()} == {
        "Alice-Smith_1001": ("1001", "Alice Smith", False), "Bob-Jones_1002": ("1002", "Bob Jones", False)}
    assert intake.problems == {}


def test_a_pattern_takes_each_students_latest_submission(tmp_path):
    download = write(tmp_path / "download", {
        "s1_attempt_2026-11-01_A3_VAE.ipynb": "old notebook", "s1_attempt_2026-11-01_helpers.py": "old helpers",
        "s1_attempt_2026-11-03_A3_VAE.ipynb": "new notebook", "s1_attempt_2026-11-03_helpers.py": "new helpers",
        "s2_attempt_2026-11-02_A3_VAE.ipynb": "s2 notebook", "s2_attempt_2026-11-02_helpers.py": "s2 helpers"})
    pattern = r"(?P<student_id>s\d+)_attempt_(?P<timestamp>[0-9-]+)_(?P<file_id>.+)"
    intake = lms.take_in(download, pattern=pattern, grouped=tmp_path / "grouped")
    assert contents(intake.folder) == {"s1/A3_VAE.ipynb": "new notebook", "s1/helpers.py": "new helpers",
                                       "s2/A3_VAE.ipynb": "s2 notebook", "s2/helpers.py": "s2 helpers"}


def test_files_that_cannot_be_grouped_are_errors_never_dropped(tmp_path):
    download = write(tmp_path / "download", {
        "a/x_A3_VAE.ipynb": "1", "b/x_A3_VAE.ipynb": "2", "a/x_helpers.py": "h", "readme.txt": "from the TA"})
    intake = lms.take_in(download, pattern=r"[ab]/(?P<student_id>x)_(?P<file_id>.+)", grouped=tmp_path / "g")
    assert intake.problems == {"x": (lms.UNGROUPED, "several files would be the same file of the submission: "
                                                    "a/x_A3_VAE.ipynb and b/x_A3_VAE.ipynb")}
    assert [path for path, _ in intake.ungrouped] == ["readme.txt"]


def test_auto_tells_the_layouts_apart_and_refuses_a_mixture(tmp_path):
    folders = write(tmp_path / "folders", {"bob/A3_VAE.ipynb": "n", "bob/helpers.py": "h", "carol.zip": "z"})
    intake = lms.take_in(folders, grouped=tmp_path / "g")
    assert intake.folder == folders and intake.paths == {"bob": folders / "bob", "carol": folders / "carol.zip"}
    assert not (tmp_path / "g").exists(), "folders are graded where they are"
    mixed = write(tmp_path / "mixed", {**CANVAS, "grades.csv": "x"})
    with pytest.raises(LayoutError, match=r"8 of 9 files are named as canvas names them, but not grades.csv"):
        lms.take_in(mixed, grouped=tmp_path / "g")
    with pytest.raises(LayoutError, match=r"no group \(\?P<student_id>"):
        lms.take_in(folders, pattern=r"(?P<name>.+)", grouped=tmp_path / "g")
    with pytest.raises(LayoutError, match="without --layout canvas"):
        lms.take_in(folders, layout="canvas", pattern=r"(?P<student_id>.+)", grouped=tmp_path / "g")


def test_rosters_from_canvas_and_moodle_are_read_as_they_are(tmp_path):
    canvas = tmp_path / "canvas.csv"
    canvas.write_text('\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,A3 VAE (771)\n'
                      '    Points Possible,,,,,40\n"Smith, Alice",48213,S1,asmith,Lab A,\n\n')
    assert lms.read_roster(canvas) == {"48213": Person(id="48213", name="Smith, Alice", section="Lab A",
                                                       sis_user_id="S1", sis_login_id="asmith")}
    moodle = tmp_path / "moodle.csv"
    moodle.write_text("Identifier,Full name,Email address,Status,Grade\n"
                      "Participant 1001,Alice Smith,alice@example.org,Submitted,\n")
    assert lms.read_roster(moodle) == {"1001": Person(id="1001", name="Alice Smith", email="alice@example.org")}


@pytest.mark.parametrize("text, message", [
    ("name,section\nAlice,A\n", r"no id column; its header row must name one of id, student id, identifier"),
    ("id,name\n1,Alice\n,Bob\n", r"row 3: the id is empty"),
    ("ID,Name\n1,Alice\n2,Bob\n1,Carol\n", r"rows 2 and 4: the same id 1"),
])
def test_a_roster_that_cannot_be_read_names_its_row(tmp_path, text, message):
    (tmp_path / "roster.csv").write_text(text)
    with pytest.raises(LayoutError, match=message):
        lms.read_roster(tmp_path / "roster.csv")


def test_the_roster_names_the_students_and_lists_who_is_missing_and_who_is_not_on_it(tmp_path):
    download = write(tmp_path / "download", CANVAS)
    roster = {"48213": Person(id="48213", name="Smith, Alice", section="Lab A"),
              "48216": Person(id="48216", name="Park, Dave", section="Lab B")}
    intake = lms.take_in(download, grouped=tmp_path / "g", roster=roster)
    alice = intake.people["smithalice_48213"]
    assert (alice.name, alice.section, alice.on_roster, alice.late) == ("Smith, Alice", "Lab A", True, True)
    assert intake.people["leecarol_48215"].on_roster is False
    assert intake.missing == [roster["48216"]]
    assert lms.class_columns(intake.people["leecarol_48215"]) == ["48215", "leecarol", "", "", "not on the roster"]


GRADES = [(Person(id="48213", name="Smith, Alice", section="Lab A", sis_user_id="S1", email="a@x.org"), 37.5),
          (Person(id="48216", name="Park, Dave"), None)]


def test_the_canvas_export_is_canvas_gradebook_import():
    rows = list(csv.reader(io.StringIO(lms.canvas_export(GRADES, "A3 VAE (771)", 40))))
    assert rows == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "A3 VAE (771)"],
                    ["Points Possible", "", "", "", "", "40"],
                    ["Smith, Alice", "48213", "S1", "", "Lab A", "37.5"],
                    ["Park, Dave", "48216", "", "", "", ""]]


def test_the_moodle_export_is_moodles_grading_worksheet():
    when = datetime(2026, 12, 4, 19, 30, tzinfo=timezone.utc)
    rows = list(csv.reader(io.StringIO(lms.moodle_export(GRADES, 40, when))))
    assert rows == [["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Last modified (grade)"],
                    ["Participant 48213", "Smith, Alice", "a@x.org", "37.5", "40", "2026-12-04T19:30:00+00:00"],
                    ["Participant 48216", "Park, Dave", "", "", "40", "2026-12-04T19:30:00+00:00"]]
