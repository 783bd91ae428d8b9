"""The notebook end to end under nbval, training from scratch (shortened).

The committed notebook is checked by nbval as it stands (it loads the
committed model); this test runs a completed student edition with the command
the student edition's README gives, that really trains, in a scratch folder,
so its checkpoint and figures do not touch the committed ones. The handout
holds no outputs; here its check cells get the full run's outputs back, and
must print them again: they depend on nothing that varies with the number of
epochs, the number of test images evaluated, the machine or the thread count.
"""
import base64
import os
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat

from vaekit.mnist import mnist_root
from instructor.layout import SUPPORT_MODULES, copy_files, is_check_cell
from instructor.make_student import make_student
from instructor.markers import BEGIN, END

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_FILES = ("A3_VAE.ipynb", "helpers.py", *SUPPORT_MODULES)
FIGURES = ("training_curve.png", "latent_scatter.png", "prior_samples.png", "reconstructions.png",
           "latent_lattice.png", "latent_walk.png", "posterior_vs_q.png")


def notebook_in(folder, **settings):
    """Copy the notebook and the modules it imports into folder; returns the environment to run it
    in: this one without VAE_ settings, with settings (e.g. VAE_EPOCHS="2") and MNIST_ROOT."""
    copy_files(NOTEBOOK_FILES, ROOT, folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAE_")}
    return {**env, **settings, "MNIST_ROOT": str(mnist_root().resolve())}


def completed_student_edition(folder):
    """The student edition in folder, every stub and answer filled in as the solution has it, and its
    check cells holding the outputs of the full run."""
    make_student(folder)
    solution = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    notebook = nbformat.read(folder / "A3_VAE.ipynb", as_version=4)
    for mine, given in zip(notebook.cells, solution.cells):
        if is_check_cell(mine):  # the check cells stay as handed out, with the full run's outputs
            mine.outputs, mine.execution_count = given.outputs, given.execution_count
        else:
            mine.source = "\n".join(line for line in given.source.split("\n") if line.strip() not in (BEGIN, END))
    nbformat.write(notebook, folder / "A3_VAE.ipynb")
    helpers = (ROOT / "helpers.py").read_text().split("\n")
    (folder / "helpers.py").write_text("\n".join(line for line in helpers if line.strip() not in (BEGIN, END)))


def test_a_completed_student_edition_trains_from_scratch_and_passes_its_checks(tmp_path):
    edition = tmp_path / "student"
    completed_student_edition(edition)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAE_")}
    env.update(MNIST_ROOT=str(mnist_root().resolve()), VAE_EPOCHS="2", VAE_EVAL_IMAGES="200")
    # The command the student edition's README gives (tests/test_grading.py checks that it does).
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "A3_VAE.ipynb"],
        cwd=edition, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert (edition / "models" / "vae_2epochs.pt").is_file()
    for name in FIGURES:
        assert (edition / "figures" / name).stat().st_size > 1000, name


def test_the_explorer_runs_in_a_notebook_runner_that_sends_the_kernel_nothing_but_cells(tmp_path):
    """nbconvert and nbgrader run notebooks with nbclient, which answers an Output widget's contents
    with comm messages to the kernel in the middle of the cell; a cell that drew into one left
    nbgrader waiting out its time limit for a reply (seen in CI). Here nbclient runs the explorer
    (and the cells it needs), and every message it sends the kernel must be a cell to run."""
    env = notebook_in(tmp_path)
    notebook = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    by_id = {cell.get("id"): cell for cell in notebook.cells}
    notebook.cells = [by_id[i] for i in ("setup", "data", "decoder", "encoder", "scatter", "explorer")]
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    sent = []
    with client.setup_kernel(env=env):
        send = client.kc.shell_channel.send

        def recorded(message):
            sent.append(message["header"]["msg_type"])
            send(message)

        client.kc.shell_channel.send = recorded
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    assert sent == ["execute_request"] * len(notebook.cells), sent
    views = [comm_id for comm_id, state in client.widget_state.items() if state.get("_model_name") == "ImageModel"]
    assert len(views) == 1, "the explorer shows its view as a picture"
    picture = base64.b64decode(client.widget_buffers[views[0]][("value",)]["data"])
    assert picture.startswith(b"\x89PNG") and len(picture) > 10_000, "the view holds the drawn figure"
