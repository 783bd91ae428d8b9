"""The notebook end to end under nbval, training from scratch (shortened).

The committed notebook is checked by nbval as it stands (it loads the
committed model); this test runs a copy that really trains, in a scratch
folder, so its checkpoint and figures do not touch the committed ones. Its
check cells must print what the full run printed: they depend on nothing that
varies with the number of epochs, the number of test images evaluated, the
machine or the thread count.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mnist import mnist_root
from tools.grade import SUPPORT_MODULES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_FILES = ("A3_VAE.ipynb", "helpers.py", *SUPPORT_MODULES)
FIGURES = ("training_curve.png", "latent_scatter.png", "prior_samples.png", "reconstructions.png",
           "latent_lattice.png", "latent_walk.png", "posterior_vs_q.png")


def test_notebook_trains_from_scratch_and_passes_its_checks(tmp_path):
    for name in NOTEBOOK_FILES:
        shutil.copy(ROOT / name, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAE_")}
    env.update(VAE_EPOCHS="2", VAE_EVAL_IMAGES="200", MNIST_ROOT=str(mnist_root().resolve()))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "A3_VAE.ipynb"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert (tmp_path / "models" / "vae_2epochs.pt").is_file()
    for name in FIGURES:
        assert (tmp_path / "figures" / name).stat().st_size > 1000, name
