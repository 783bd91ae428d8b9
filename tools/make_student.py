"""Write the student edition of the assignment from the solution.

    python tools/make_student.py OUT_DIR

Every block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
markers) in A3_VAE.ipynb and helpers.py becomes a stub, indented like the
markers:

    # YOUR CODE HERE
    raise NotImplementedError()

In a markdown cell (the answers to the written questions) the block becomes
``YOUR ANSWER HERE``, so no answer text is kept.

Check cells (tagged nbval-check-output) keep their reference outputs; every
other output is removed, and no figure or trained model is copied, so no part
of an answer leaks. Cell ids are kept: grading matches cells by id. An unclosed,
stray or nested marker is an error, and then nothing is written.

OUT_DIR receives the notebook, helpers.py, the modules the notebook imports,
requirements.txt, a short README and the grader (tools/grade.py and the modules
it uses) with tools/reference.ipynb and tools/reference_helpers.py (pristine
copies of the student notebook and helpers.py), so that students can check
their work with ``python tools/grade.py .``.
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.grade import GRADER_FILES, SUPPORT_MODULES, is_check_cell  # noqa: E402
from tools.markers import MarkerError, handed_out, strip_solutions  # noqa: E402
STUDENT_README = """\
# Assignment 3: variational autoencoders

Fill in every `# YOUR CODE HERE` in `A3_VAE.ipynb` and `helpers.py`, answer
the three questions (`YOUR ANSWER HERE`), then check your work:

```bash
python -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/python tools/grade.py .
```

The report has one line per part, pass or fail with the reason. Fix the
first failure first: later parts use earlier ones. Each `# TODO` cell says
what it must leave behind (names and shapes) for its check; how you plot is
up to you. The written answers are read by a person. Grading trains for 2
epochs only; to train the full model, run the notebook top to bottom.
Lines that reach for the checks or the grader, or patch a library, are
flagged in the report for your instructor to read (see tools/flags.py).
"""


def student_notebook(solution):
    """The student edition of a solution notebook (a new NotebookNode)."""
    notebook = nbformat.from_dict(solution)
    notebook.metadata.pop("widgets", None)  # saved widget state can hold outputs
    for cell in notebook.cells:
        if cell.cell_type in ("markdown", "code"):
            cell.source = handed_out(cell.source, cell.cell_type, f"cell {cell.id!r}")
        if cell.cell_type == "code" and not is_check_cell(cell):
            cell.outputs = []
            cell.execution_count = None
    return notebook


def make_student(out_dir, solution_dir=ROOT):
    """Write the student edition into out_dir (created; must not hold a notebook yet)."""
    out_dir, solution_dir = Path(out_dir), Path(solution_dir)
    if (out_dir / "A3_VAE.ipynb").exists():
        raise FileExistsError(f"{out_dir} already holds A3_VAE.ipynb; choose an empty folder")
    # Build everything first, so a marker error leaves nothing half-written.
    notebook = student_notebook(nbformat.read(solution_dir / "A3_VAE.ipynb", as_version=4))
    nbformat.validate(notebook)
    helpers = strip_solutions((solution_dir / "helpers.py").read_text(), "helpers.py")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        (staging / "tools").mkdir()
        nbformat.write(notebook, staging / "A3_VAE.ipynb")
        nbformat.write(notebook, staging / "tools" / "reference.ipynb")
        (staging / "helpers.py").write_text(helpers)
        (staging / "README.md").write_text(STUDENT_README)
        for name in (*SUPPORT_MODULES, "requirements.txt"):
            shutil.copy(solution_dir / name, staging / name)
        for name in GRADER_FILES:
            shutil.copy(solution_dir / name, staging / name)
        # What grading uses for a submission without helpers.py: the stubs, as handed out.
        (staging / "tools" / "reference_helpers.py").write_text(helpers)
        out_dir.mkdir(exist_ok=True)
        for item in staging.iterdir():
            shutil.move(str(item), out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder for the student edition")
    args = parser.parse_args(argv)
    try:
        make_student(args.out_dir)
    except (MarkerError, FileExistsError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    print(f"student edition written to {args.out_dir}")


if __name__ == "__main__":
    sys.exit(main())
