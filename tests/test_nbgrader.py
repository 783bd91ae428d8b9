"""A real nbgrader round trip: generate_assignment releases the student edition, zip_collect takes a Canvas
download, autograde scores parts, export writes the grades.

Needs nbgrader (requirements-test.txt, which CI installs); without it these tests are skipped.
The course is laid out as docs/grading.md's nbgrader paragraph says.
"""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from instructor.layout import SUPPORT_MODULES, copy_files
from instructor.make_student import make_student

pytest.importorskip("nbgrader", reason="nbgrader is in requirements-test.txt; install it to run these tests")
from nbgrader.api import Gradebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """c = get_config()
c.CourseDirectory.course_id = "vae"
c.CourseDirectory.root = {root!r}
# The student's helpers.py is graded as submitted, not replaced by the released stub.
c.Autograde.exclude_overwriting = {{"a3": ["helpers.py"]}}
# Training takes longer than nbgrader's default of 30 s a cell; 2 epochs (VAE_EPOCHS) fit in this.
c.Execute.timeout = 600
# zip_collect: Canvas's download (lastfirst_userid_submissionid_name) in downloaded/a3/archive, helpers.py too.
c.ZipCollectApp.archive_directory = "archive"
c.FileNameCollectorPlugin.valid_ext = [".ipynb", ".py"]
c.FileNameCollectorPlugin.named_regexp = r".*_(?P<student_id>\d+)_\d+_(?P<file_id>.+)"
"""
CANVAS_ID = "48213"  # alice's id in Canvas, as her files in the download are named


def nbgrader(course, *args):
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic from the same environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           "VAE_EPOCHS": "2", "VAE_EVAL_IMAGES": "50",
           "MNIST_ROOT": str(Path(os.environ.get("MNIST_ROOT", "data")).resolve())}
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=3600)  # only for a run that never ends
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with the assignment a3 released."""
    course = tmp_path_factory.mktemp("course")
    edition = tmp_path_factory.mktemp("edition") / "student"
    make_student(edition)
    source = course / "source" / "a3"
    source.mkdir(parents=True)
    shutil.copy(ROOT / "A3_VAE.ipynb", source)
    shutil.copy(edition / "helpers.py", source)  # the student's helpers.py: stubs, no solutions
    copy_files(SUPPORT_MODULES, ROOT, source)
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course)))
    nbgrader(course, "generate_assignment", "a3", "--force")
    return course, edition


def code_and_answers(path):
    return [(c.cell_type, c.source) for c in nbformat.read(path, as_version=4).cells]


def test_generate_assignment_releases_the_same_stubs_as_make_student(course):
    course, edition = course
    release = course / "release" / "a3"
    assert code_and_answers(release / "A3_VAE.ipynb") == code_and_answers(edition / "A3_VAE.ipynb")
    assert (release / "helpers.py").read_text() == (edition / "helpers.py").read_text()
    for path in (release / "A3_VAE.ipynb", release / "helpers.py"):
        assert "### BEGIN SOLUTION" not in path.read_text() and "HIDDEN TESTS" not in path.read_text()
    assert not list(release.glob("judge*")), "the references stay out of the release"


def submit(course, student, notebook_edit=None, helpers_edit=None, added_cell=None):
    folder = course / "submitted" / student / "a3"
    folder.mkdir(parents=True)
    notebook = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    if notebook_edit:
        old, new = notebook_edit
        cell = next(c for c in notebook.cells if old in c.source)
        cell.source = cell.source.replace(old, new)
    if added_cell:
        notebook.cells.insert(3, nbformat.v4.new_code_cell(added_cell))
    nbformat.write(notebook, folder / "A3_VAE.ipynb")
    helpers = (ROOT / "helpers.py").read_text()
    if helpers_edit:
        assert helpers.count(helpers_edit[0]) == 1
        helpers = helpers.replace(*helpers_edit)
    (folder / "helpers.py").write_text(helpers)


def part_scores(course, student):
    """{grade_id: (score, max score)} of every autograded part of a student's notebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "vae") as gradebook:
        notebook = gradebook.find_submission_notebook("A3_VAE", "a3", student)
        return {grade.name: (grade.score, grade.max_score) for grade in notebook.grades
                if grade.auto_score is not None}


# The visible check replaced by one that prints what it prints, over a log_mean_exp that is wrong:
# the hidden test, on inputs drawn at autograde, still fails it.
SPOOFED_CHECK = """from vaekit import checks
checks.check_log_mean_exp = lambda *args: print(
    "log_mean_exp: (2,), matches log(mean(exp(a))), no overflow at 1000: ok")"""


def test_autograde_gives_the_solution_full_points_and_a_mistake_loses_its_part_only(course):
    course, _ = course
    archive = course / "downloaded" / "a3" / "archive"  # alice hands in through Canvas: zip_collect takes her files
    archive.mkdir(parents=True)
    shutil.copy(ROOT / "A3_VAE.ipynb", archive / f"smithalice_{CANVAS_ID}_3301927_A3_VAE.ipynb")
    shutil.copy(ROOT / "helpers.py", archive / f"smithalice_{CANVAS_ID}_3301928_helpers.py")
    nbgrader(course, "zip_collect", "a3")
    assert sorted(p.name for p in (course / "submitted" / CANVAS_ID / "a3").iterdir()) == ["A3_VAE.ipynb",
                                                                                         "helpers.py"]
    submit(course, "bob", ("torch.meshgrid(ticks.flip(0), ticks,", "torch.meshgrid(ticks, ticks,"))  # upside down
    submit(course, "carol", helpers_edit=("return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])",
                                          "return torch.logsumexp(a, dim=dim)"), added_cell=SPOOFED_CHECK)
    nbgrader(course, "autograde", "a3", "--create", "--force")
    alice, bob, carol = (part_scores(course, student) for student in (CANVAS_ID, "bob", "carol"))
    solution = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    graded = {c.id: c.metadata["nbgrader"]["points"] for c in solution.cells
              if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"]["solution"]}
    assert set(alice) == set(graded) and sum(graded.values()) == 34
    assert all(score == maximum == graded[name] for name, (score, maximum) in alice.items()), alice
    lost = {name for name, (score, maximum) in bob.items() if score < maximum}
    assert lost == {"check-lattice"}, bob
    assert carol["check-log-mean-exp"][0] == 0, carol
    nbgrader(course, "export")  # the grades, for the LMS: the written answers wait for formgrader
    with open(course / "grades.csv", newline="") as f:
        exported = {row["student_id"]: row for row in csv.DictReader(f)}
    assert float(exported[CANVAS_ID]["raw_score"]) == 34 and float(exported[CANVAS_ID]["max_score"]) == 40
    assert float(exported["bob"]["raw_score"]) == 34 - graded["check-lattice"]
