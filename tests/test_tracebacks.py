"""A failing check, in a real Jupyter kernel and under pytest --nbval, shows the student's line and the
whole message, and no frame of the checks (vaekit/checks/, vaekit/arguments.py)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SETUP = "import torch\nfrom vaekit import checks\nfrom helpers import bernoulli_log_density"
# Three ways a student meets an error: a check that fails, their own code that raises inside a check,
# and a helper's argument check that refuses what they pass.
FAILING = {
    "a log_prior without its constant": (
        "def log_prior(z):\n    return -0.5 * (z ** 2).sum(1)\n\nchecks.check_log_prior(log_prior, 'cpu')",
        "AssertionError: log_prior(z): expected the values of an independent computation within 0.0001, found 5 of "
        "5 values off (largest difference 1.84); it is off by the same +1.838 everywhere: log(2 pi): is the "
        "normalising constant missing?",
        "checks.check_log_prior(log_prior, 'cpu')"),
    "a stub not filled in": (
        "def log_prior(z):\n    raise NotImplementedError()\n\nchecks.check_log_prior(log_prior, 'cpu')",
        "NotImplementedError:", "raise NotImplementedError()"),
    "a grey pixel passed to a helper": (
        "bernoulli_log_density(torch.full((1, 784), 0.5), torch.zeros(1, 784))",
        "ValueError: x must be binary (every entry 0 or 1); binarize greyscale images with (x > 0.5).float()",
        "check_bernoulli_arguments(x, logits)"),
}


def notebook(folder, cells):
    shutil.copy(ROOT / "helpers.py", folder / "helpers.py")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "failing.ipynb")
    return nb


@pytest.mark.parametrize("case", FAILING)
def test_a_jupyter_kernel_shows_the_students_line_and_the_message(tmp_path, case):
    source, message, student_line = FAILING[case]
    nb = notebook(tmp_path, [SETUP, source])
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert not [o for o in nb.cells[0].outputs if o.output_type == "error"]
    [error] = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    traceback = ANSI.sub("", "\n".join(error.traceback))
    assert "vaekit" not in traceback.replace("from vaekit import", ""), traceback
    assert student_line in traceback, traceback
    assert traceback.rstrip().endswith(message), traceback
    # Any other error prints as IPython prints it.
    assert "hidden" not in traceback


def test_pytest_nbval_shows_no_frame_of_the_checks(tmp_path):
    source, message, student_line = FAILING["a log_prior without its constant"]
    notebook(tmp_path, [SETUP, source])
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                          "-q", "failing.ipynb"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = ANSI.sub("", run.stdout)
    assert run.returncode == 1 and "1 failed" in out, out[-3000:]
    assert "vaekit/" not in out, out[-3000:]
    assert student_line in out and message in out, out[-3000:]
