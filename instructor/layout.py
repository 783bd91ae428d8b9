"""The assignment's files and cell tags, as the handout (make_student) and the grader both use them.

The solution notebook A3_VAE.ipynb and helpers.py lie at ROOT, beside instructor/.
A check cell is tagged CHECK_TAG; one that carries points (nbgrader's metadata,
and the part's name in the cell's metadata) is graded. Every module of vaekit/
is handed out with the notebook, which imports them.
"""
import shutil
from pathlib import Path

from instructor.markers import strip_solutions

ROOT = Path(__file__).resolve().parents[1]
CHECK_TAG = "nbval-check-output"
LEARNER_TAG = "learner-only"  # given code whose results no check reads: grading skips it
ANSWER_TAG = "written-answer"  # a markdown cell a person grades

# The package the notebook imports besides the student's helpers.py, with the public checks' expected
# values: all of vaekit/, so that a module added there is handed out and graded with the rest.
SUPPORT_MODULES = tuple(sorted([*(path.relative_to(ROOT).as_posix() for path in (ROOT / "vaekit").rglob("*.py")),
                                "vaekit/checks_expected.pt"]))
# What the kernel imports when grading, beside the notebook's own modules.
PROBE_MODULES = (
    "instructor/__init__.py",
    "instructor/grading_probe.py",
    "instructor/reference_model.py",
)
# The grader itself, as the Gradescope autograder ships it (the student edition does not).
GRADER_FILES = (
    *PROBE_MODULES,
    "instructor/layout.py",
    "instructor/markers.py",
    "instructor/grade.py",
    "instructor/result.py",
    "instructor/merge.py",
    "instructor/placement.py",
    "instructor/nbval_report.py",
    "instructor/submission.py",
    "instructor/flags.py",
    "instructor/supervision.py",
    "instructor/judge.py",
)


def default_reference():
    """The solution notebook, whose check cells are the reference."""
    return ROOT / "A3_VAE.ipynb"


def handout_helpers(solution_dir=ROOT):
    """The text of helpers.py as handed out: its functions raise NotImplementedError."""
    return strip_solutions((Path(solution_dir) / "helpers.py").read_text(), "helpers.py")


def copy_files(names, source, destination):
    """Copy the files names (paths relative to source, in folders or not) to the same paths below destination."""
    for name in names:
        (Path(destination) / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(source) / name, Path(destination) / name)


def is_check_cell(cell):
    return CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def is_graded(cell):
    """A check cell that carries points: grading replaces it by a probe."""
    return is_check_cell(cell) and "part" in cell.get("metadata", {})


def points_of(cell):
    return cell.metadata.get("nbgrader", {}).get("points", 0)


def is_written_answer(cell):
    return ANSWER_TAG in cell.get("metadata", {}).get("tags", [])


def question_of(cell):
    """A written answer's name: the part in its cell's metadata, else the cell's id."""
    return cell.metadata.get("part", cell.id)


def parts_of(reference):
    """[(part name, points)] of the checks that carry points, in notebook order."""
    return [(cell.metadata["part"], points_of(cell)) for cell in reference.cells if is_graded(cell)]
