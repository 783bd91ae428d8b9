"""Write the student edition of the assignment from the solution.

    python -m instructor.make_student OUT_DIR

Every block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
markers) in A3_VAE.ipynb and helpers.py becomes a stub, indented like the
markers:

    # YOUR CODE HERE
    raise NotImplementedError()

In a markdown cell (the answers to the written questions) the block becomes
``YOUR ANSWER HERE``, so no answer text is kept.

Every output is removed (a check shows its result only once it has run), and
no figure or trained model is copied, so no part of an answer leaks. Cell ids
are kept: grading matches cells by id. An unclosed, stray or nested marker is
an error, and then nothing is written.

OUT_DIR receives the notebook, helpers.py, the package the notebook imports
(all of vaekit/, with vaekit/checks_expected.pt, the values the notebook's checks
compare with: instructor/layout.py), requirements.txt and a short README. Students check their work by running the
notebook, or all of it with ``pytest --nbval-lax``. The grader is not handed out:
its references (instructor/judge.py) are the answers, and instructors grade with
this repository's instructor/grade.py.
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from instructor.layout import ROOT, SUPPORT_MODULES, copy_files, handout_helpers
from instructor.markers import MarkerError, handed_out

STUDENT_README = """\
# Assignment 3: variational autoencoders

Fill in every `# YOUR CODE HERE` in `A3_VAE.ipynb` and `helpers.py` and answer
the three questions (`YOUR ANSWER HERE`). Set up once:

```bash
python -m venv .venv && .venv/bin/pip install -r requirements.txt
```

MNIST is downloaded into `data/` the first time the notebook loads it; without
internet, set `MNIST_ROOT` to a folder that holds `MNIST/raw/` with the four
uncompressed `*-ubyte` files.

## The rules

No probabilistic-modelling library: you write every log density and sampler
yourself, in `helpers.py`, from tensor operations.

- Allowed: tensor arithmetic and reductions (`torch.exp`, `torch.log`,
  `torch.sigmoid`, `.sum()`, `@`, ...) and shape operations (`view`,
  `reshape`, `permute`, `stack`, `flip`, `linspace`, `meshgrid`, ...);
  `torch.randn` and `torch.rand` for the random draws, `torch.randint` and
  `torch.randperm` to pick digits; `F.softplus`, `F.logsigmoid`,
  `torch.logaddexp` and `torch.logsumexp`; layers, the optimizer, NumPy and
  PIL for images, matplotlib and torchvision for pictures. In the notebook's
  TODO cells, use your own functions, and of `vaekit` only what the cells
  already use (`save_figure`, `save_image`, and the `TrainingRun` in
  `train`).
- Not allowed: `torch.distributions`; `F.binary_cross_entropy`,
  `F.binary_cross_entropy_with_logits`, `nn.BCELoss` and `nn.BCEWithLogitsLoss`;
  `F.gaussian_nll_loss`, `nn.GaussianNLLLoss`, `F.kl_div` and `nn.KLDivLoss`;
  `torch.bernoulli`, `torch.normal`, `torch.multinomial` and `torch.poisson`
  (and the tensor methods `.bernoulli_()`, `.normal_()` and `.uniform_()`);
  any other library's density or sampler (`scipy.stats`, `numpy.random`).

Lines that use what is not allowed, reach for the checks or the grader, or
patch a library are flagged for your instructor to read.

## Trying your work

Each function you write, the training function aside, has a worked example in its docstring (`>>>`): a
small input and the value to expect, or a shape or a relation you can check
by hand. It fails with `NotImplementedError` until you have written the stub.

```bash
.venv/bin/python -m pytest --doctest-modules helpers.py
```

runs the examples of `helpers.py`; in the notebook, a cell with
`import doctest; doctest.testmod()` runs those of the functions you defined
there. After editing `helpers.py`, restart the notebook's kernel (Python
imports a module once), then run the cells again.

The check cell after each part says `ok` when it passes, or what it expected,
what it found and what the mistake most likely is. Fix the first failure
first: later parts use earlier ones. Each `# TODO` cell says what it must
leave behind (names and shapes) for its check; how you plot is up to you. To
run every cell and every check at once:

```bash
VAE_EPOCHS=2 VAE_EVAL_IMAGES=200 .venv/bin/python -m pytest --nbval-lax --nbval-current-env A3_VAE.ipynb
```

(2 epochs of training and 200 test digits in section 6: the checks do not
depend on either.) To train the full model, run the notebook top to bottom
without `VAE_EPOCHS`. The written answers are read by a person.

Grading runs your code on other inputs than these checks and compares the
results outside your notebook.
"""


def student_notebook(solution):
    """The student edition of a solution notebook (a new NotebookNode)."""
    notebook = nbformat.from_dict(solution)
    notebook.metadata.pop("widgets", None)  # saved widget state can hold outputs
    for cell in notebook.cells:
        if cell.cell_type in ("markdown", "code"):
            cell.source = handed_out(cell.source, cell.cell_type, f"cell {cell.id!r}")
        if cell.cell_type == "code":
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
    helpers = handout_helpers(solution_dir)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        nbformat.write(notebook, staging / "A3_VAE.ipynb")
        (staging / "helpers.py").write_text(helpers)
        (staging / "README.md").write_text(STUDENT_README)
        copy_files((*SUPPORT_MODULES, "requirements.txt"), solution_dir, staging)
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
