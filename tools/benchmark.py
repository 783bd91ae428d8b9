"""Where people wait, measured, and written down: docs/speed.md.

    python -m tools.benchmark [--epochs 1] [--repeats 25] [--eval-images 500] [--out docs/speed.md]
    python -m tools.benchmark --grading-only      (the gradings' figures, printed; no page written)
    python -m tools.benchmark --sandbox-only      (only the sandbox's section of the page, rewritten)
    python -m tools.benchmark --class-only        (only the section on a class's batch, rewritten)

`make benchmark` runs it. It times the notebook's own ``train`` against a bare
PyTorch loop and the loops tutorials write, what ``train`` adds step by step,
the exact log p(x) against a matrix product of the same shape and against
IWAE, the notebook top to bottom, one grading with its peak memory and one
grading in the sandbox against one without; then writes the page, whose text says what each figure is. The page is this
program's output, never edited by hand: every figure in it is from the run
that wrote it.
"""
import argparse
import contextlib
import copy
import datetime
import itertools
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

import helpers
from instructor.grade import GRADING_ENV
from instructor.layout import SUPPORT_MODULES, copy_files, is_graded
from instructor.markers import strip_solutions
from instructor.merge import merge
from instructor.reference_model import build_networks, networks_from_checkpoint, reference_model
from instructor.sandbox import probe
from tools.memory import watch
from tools.notebook_code import notebook_namespace
from vaekit import arguments
from vaekit.checkpoints import load_checkpoint, save_checkpoint, training_state
from vaekit.evaluation import (GRID_HALF_WIDTH, GRID_POINTS, WIDTH_PER_SPACING, exact_log_marginal,
                               importance_bounds)
from vaekit.files import write_atomically
from vaekit.mnist import mnist_root

ROOT = Path(__file__).resolve().parents[1]


def adam(encoder, decoder, config):
    """Adam over both networks, as train() makes it."""
    return torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=config["lr"])


def networks(config, initial_weights, device):
    """Fresh networks holding ``initial_weights`` ({"encoder": state_dict, "decoder": ...}), and adam()."""
    encoder, decoder = (net.to(device) for net in build_networks(config))
    encoder.load_state_dict(initial_weights["encoder"])
    decoder.load_state_dict(initial_weights["decoder"])
    return encoder, decoder, adam(encoder, decoder, config)


def bare_loss(encoder, decoder, x):
    """The notebook's one-sample negative ELBO, written out with the same densities of helpers.py
    as its cells use (the bare loop runs it with their checks switched off). x: (B, 784) -> scalar"""
    mu, log_sigma = encoder(x).chunk(2, dim=1)
    z = helpers.sample_diag_gaussian(mu, log_sigma)
    log_joint = helpers.std_normal_log_density(z) + helpers.bernoulli_log_density(x, decoder(z)).sum(1)
    return -(log_joint - helpers.diag_gaussian_log_density(z, mu, log_sigma)).mean()


def tutorial_loss(encoder, decoder, x):
    """The same loss as tutorials write it: log q(z | x) from the standard normal draw eps, the
    Bernoulli density as x * logits - softplus(logits), the constants (which cancel) dropped.
    x: (B, 784) -> scalar"""
    mu, log_sigma = encoder(x).chunk(2, dim=1)
    eps = torch.randn_like(mu)
    z = mu + log_sigma.exp() * eps
    logits = decoder(z)
    log_lik = (x * logits - F.softplus(logits)).sum(1)
    log_prior = -0.5 * (z ** 2).sum(1)
    log_q = (-0.5 * eps ** 2 - log_sigma).sum(1)
    return -(log_lik + log_prior - log_q).mean()


def adam_step(encoder, decoder, optimizer, x, loss):
    """One optimizer step on loss(encoder, decoder, x)."""
    batch_loss = loss(encoder, decoder, x)
    optimizer.zero_grad()
    batch_loss.backward()
    optimizer.step()


def run_bare(x_train, config, initial_weights, n_epochs, loss=bare_loss):
    """A bare loop of Adam steps on ``loss`` over shuffled batches of x_train, from ``initial_weights``."""
    encoder, decoder, optimizer = networks(config, initial_weights, x_train.device)
    n, batch_size = len(x_train), config["batch_size"]
    with checks_replaced(no_check):
        for _ in range(n_epochs):
            order = torch.randperm(n).to(x_train.device)
            for start in range(0, n, batch_size):
                adam_step(encoder, decoder, optimizer, x_train[order[start:start + batch_size]], loss)


def run_dataloader(config, initial_weights, device, n_epochs):
    encoder, decoder, optimizer = networks(config, initial_weights, device)
    dataset = datasets.MNIST(root=str(mnist_root()), train=True, transform=transforms.ToTensor())
    loader = DataLoader(dataset, batch_size=config["batch_size"], shuffle=True)
    for _ in range(n_epochs):
        for images, _labels in loader:
            x = (images.view(len(images), -1) > 0.5).float().to(device)
            adam_step(encoder, decoder, optimizer, x, tutorial_loss)


def run_notebook(nb, initial_weights, n_epochs):
    """The notebook's train() on its own networks (its loss uses them), reset to ``initial_weights``."""
    config = {**nb["CONFIG"], "n_epochs": n_epochs}
    nb["encoder"].load_state_dict(initial_weights["encoder"])
    nb["decoder"].load_state_dict(initial_weights["decoder"])
    with tempfile.TemporaryDirectory() as tmp:
        nb["train"](nb["encoder"], nb["decoder"], nb["x_train"], config,
                    Path(tmp) / "benchmark.pt", retrain=True)


OVERHEAD_BLOCK, OVERHEAD_ROUNDS = 20, 60  # steps in a block of one kind; rounds of the four kinds
# What a step of one kind costs more than a step of another (train_overheads), and the checkpoints timed.
ALL_CHECKS = "every argument check of helpers.py"
FUNCTIONS = "the notebook's functions around the densities, and the loss read back"
DENSITIES = "the general densities against the tutorial's"
AFTER_EPOCH, LAST = "after every epoch", "the last one (no Adam state)"
CHECKS = {"the binary check of the batch (and of its form)": ("check_binary",),
          "the inf check of mu and log_sigma": ("check_finite_gaussian",),
          "the shape and type checks": ("check_batch", "check_same_shape")}


def no_check(part, check):
    """checks_replaced's replacement that switches the checks off."""
    return lambda *args, **kwargs: None


@contextlib.contextmanager
def checks_replaced(replacement):
    """Inside the block, every argument check of helpers.py (vaekit/arguments.py) is replacement(part, check)."""
    originals = {name: getattr(arguments, name) for names in CHECKS.values() for name in names}
    try:
        for part, names in CHECKS.items():
            for name in names:
                setattr(arguments, name, replacement(part, originals[name]))
        yield
    finally:
        for name, check in originals.items():
            setattr(arguments, name, check)


def train_overheads(nb, n_steps=150, n_rounds=OVERHEAD_ROUNDS, block=OVERHEAD_BLOCK):
    """What train() adds to the bare loop, timed where it runs.

    Blocks of ``block`` training steps of four kinds, in an order that rotates, ``n_rounds``
    times: train()'s step (the notebook's loss with every argument check, the loss read back
    with .item()), the same with the checks switched off, the bare loop's step and the
    tutorial's, all on the same networks and optimizer. Medians of the differences within a
    round cancel the machine's drift.

    returns (seconds a train() step; {what: seconds a step}: every check, the notebook's
    functions around the densities, and the general densities against the tutorial's;
    {check: seconds a step} from a clock around each check over ``n_steps``; seconds of the
    binary check of all of x_train; {which: seconds} of a checkpoint after an epoch and of the
    last one; these last two medians of five)
    """
    device, x_train, config = nb["device"], nb["x_train"], nb["CONFIG"]
    encoder, decoder = nb["encoder"], nb["decoder"]
    optimizer = adam(encoder, decoder, config)
    batch_size, order, batches = config["batch_size"], torch.randperm(len(x_train)).to(device), itertools.count()
    spent, clocking = dict.fromkeys(CHECKS, 0.0), []

    def clocked(part, check):
        def run(*args, **kwargs):
            if clocking:  # a check inside another (check_binary checks the form of x first): the outer's
                return check(*args, **kwargs)
            clocking.append(part)
            start = time.perf_counter()
            try:
                return check(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - start
                clocking.pop()
        return run

    def notebook_loss(_encoder, _decoder, x):  # the notebook's loss uses its own networks, the same
        batch_loss = nb["loss"](x)
        batch_loss.item()  # as train() sums the epoch's loss
        return batch_loss

    def steps(loss, n):
        for _ in range(n):
            start = next(batches) * batch_size % len(x_train)
            adam_step(encoder, decoder, optimizer, x_train[order[start:start + batch_size]], loss)

    def unchecked(loss, n):
        with checks_replaced(no_check):
            steps(loss, n)

    with checks_replaced(clocked):
        step_seconds = timed(lambda: steps(notebook_loss, n_steps), device) / n_steps
    kinds = {"train()": lambda n: steps(notebook_loss, n), "unchecked": lambda n: unchecked(notebook_loss, n),
             "bare": lambda n: unchecked(bare_loss, n), "tutorial": lambda n: steps(tutorial_loss, n)}
    comparisons = ((ALL_CHECKS, "train()", "unchecked"), (FUNCTIONS, "unchecked", "bare"),
                   (DENSITIES, "bare", "tutorial"))
    differences = {what: [] for what, _, _ in comparisons}
    for round_ in range(n_rounds):
        names = list(kinds)[round_ % len(kinds):] + list(kinds)[:round_ % len(kinds)]
        seconds = {name: timed(lambda: kinds[name](block), device) / block for name in names}
        for what, slower, faster in comparisons:
            differences[what].append(seconds[slower] - seconds[faster])
    data_check_seconds = median_time(lambda: arguments.check_binary("x_train", x_train), device)
    checkpoint_seconds = {}
    for what, n_epochs in ((AFTER_EPOCH, config["n_epochs"]), (LAST, 1)):
        state = training_state({**config, "n_epochs": n_epochs}, [0.0], encoder, decoder, optimizer,
                               torch.Generator())
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint_seconds[what] = median_time(lambda: save_checkpoint(Path(tmp) / "c.pt", state), device)
    return (step_seconds, {what: statistics.median(d) for what, d in differences.items()},
            {part: seconds / n_steps for part, seconds in spent.items()}, data_check_seconds,
            checkpoint_seconds)


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def median_time(fn, device, n=5):
    """The median of n timings of fn: the medians, like the steps', not the best, as the sum of the
    parts is held against the median epoch."""
    return statistics.median(timed(fn, device) for _ in range(n))


def same_shape_matmul(x, n_grid, block=2048):
    """x @ Y.T for a random Y of n_grid rows, in the quadrature's blocks: its pure matrix-product cost."""
    y = torch.randn(block, x.shape[1], device=x.device)
    for start in range(0, n_grid, block):
        x @ y[:min(block, n_grid - start)].T


def per_digit_accuracy(model, x_test, n_digits=600, seed=0):
    """How far each digit's exact log p(x) is from a grid 4 times finer: on the default grid alone,
    with the default rule for narrow posteriors, and with a stricter one.

    returns (points of the finer grid a side, [(name, width_per_spacing, median, 90 %, 99 %, worst, seconds)])
    """
    picked = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(seed))[:n_digits]
    x = x_test[picked.to(x_test.device)]
    finest_points = 4 * (GRID_POINTS - 1) + 1
    finest = exact_log_marginal(model, x, GRID_HALF_WIDTH, finest_points, width_per_spacing=0)
    rows = []
    for name, width_per_spacing in (("the grid alone", 0), ("the default rule", WIDTH_PER_SPACING),
                                    ("a stricter rule", 0.6)):
        log_px = []
        seconds = timed(lambda: log_px.append(exact_log_marginal(model, x, width_per_spacing=width_per_spacing)),
                        x.device)
        error = (log_px[0] - finest).abs().double().cpu()
        quantiles = torch.quantile(error, torch.tensor([0.5, 0.9, 0.99], dtype=torch.float64)).tolist()
        rows.append((name, width_per_spacing, *quantiles, error.max().item(), seconds))
    return finest_points, rows


def run_notebook_copy():
    """The notebook top to bottom with the committed model, as make run does, in a scratch folder."""
    with tempfile.TemporaryDirectory() as tmp:
        copy_files(("A3_VAE.ipynb", "helpers.py", *SUPPORT_MODULES), ROOT, tmp)
        shutil.copytree(ROOT / "models", Path(tmp) / "models")
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                        "--inplace", "--ExecutePreprocessor.timeout=-1", "A3_VAE.ipynb"],
                       cwd=tmp, check=True, capture_output=True, env=environment())


def run_grading(threads=None, sandbox="auto"):
    """instructor/grade.py on a copy of the solution; returns (peak PSS of all its processes in MB, seconds,
    CPU seconds of all its processes).

    threads: OMP_NUM_THREADS for it (None: torch's own choice)
    sandbox: its --sandbox
    """
    env = environment() if threads is None else {**environment(), "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        copy_files(("A3_VAE.ipynb", "helpers.py"), ROOT, tmp)
        child = subprocess.Popen([sys.executable, "-m", "instructor.grade", tmp, "--sandbox", sandbox], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        peak_mb, seconds, cpu_s = watch(child)
    if child.returncode != 0:
        raise RuntimeError(f"grading the solution failed (exit code {child.returncode})")
    return peak_mb, seconds, cpu_s


def run_checks_in_kernel(threads=1):
    """The solution's merge as grading ran it before the judge left the kernel: every check cell the
    reference's own (its hidden test removed), run in the kernel under nbval; returns seconds."""
    reference = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    checks_cells = {cell.id: cell for cell in reference.cells if is_graded(cell)}
    merged = merge(reference, reference)
    merged.cells = [checks_cells.get(cell.id, cell) for cell in merged.cells if not cell.id.startswith("grading-")]
    for cell in checks_cells.values():
        cell.source = strip_solutions(cell.source, cell.id)
    env = {**environment(), **GRADING_ENV, "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        nbformat.write(merged, Path(tmp) / "A3_VAE.ipynb")
        copy_files(("helpers.py", *SUPPORT_MODULES), ROOT, tmp)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                        "-q", "A3_VAE.ipynb"], cwd=tmp, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def grading_rows():
    """One grading of the solution with one thread and with torch's default, then gradings judged outside
    the kernel alternating with the checks run in it; returns the page's lines."""
    rows = []
    for threads in (1, None):
        peak_mb, seconds, _ = run_grading(threads)
        name = "1 thread" if threads else f"{torch.get_num_threads()} threads (torch's default)"
        rows.append(f"| one grading (`python -m instructor.grade`), {name} | {seconds:.1f} s | "
                    f"peak memory {peak_mb:.0f} MB, summed over its processes |")
    judged, in_kernel = [], []
    for _ in range(3):
        judged.append(run_grading(1)[1])
        in_kernel.append(run_checks_in_kernel(1))
    rows.append(f"| judged outside the kernel against the checks run in it, 1 thread, 3 of each alternating "
                f"(medians) | {statistics.median(judged):.1f} s / {statistics.median(in_kernel):.1f} s | "
                f"{statistics.median(judged) / statistics.median(in_kernel):.2f} |")
    return rows


CLASS_SIZE = 2  # copies of the solution in each batch of the class section
# The grader before this project graded a term (LMS downloads, regrades, provenance, errors carried forward,
# the class report): the class section times a batch of it against a batch of this one.
BEFORE_THE_TERM = "c13ec25"


def timed_batch(folder, out, root):
    """Seconds of one grade_batch of folder into out, by the grader in root (this repository or an older
    checkout of it), one grading at a time, unsandboxed."""
    command = [sys.executable, "-m", "instructor.grade_batch", str(folder), "--out", str(out), "--jobs", "1"]
    if root == ROOT:  # the sandbox's cost is measured apart (its section): here, only what the batch adds
        command += ["--sandbox", "off"]
    start = time.perf_counter()
    subprocess.run(command, cwd=root, env=environment(), check=True, capture_output=True)
    return time.perf_counter() - start


def class_section(pairs=2):
    """The page's section on a class's batch: a batch of CLASS_SIZE copies of the solution by this grader (its
    class report included) against one by the grader of BEFORE_THE_TERM, alternating, then the class report
    written again on its own; returns its lines."""
    lines = [CLASS_TEXT.format(size=CLASS_SIZE, pairs=pairs, before=BEFORE_THE_TERM),
             f"Measured on {datetime.date.today()}, on {machine()}.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["git", "worktree", "add", "--detach", str(tmp / "before"), BEFORE_THE_TERM], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            for number in range(CLASS_SIZE):
                copy_files(("A3_VAE.ipynb", "helpers.py"), ROOT, tmp / "submissions" / f"student-{number}")
            times = {"now": [], "before": []}
            for pair in range(pairs):
                for grader in ("now", "before") if pair % 2 == 0 else ("before", "now"):
                    root = ROOT if grader == "now" else tmp / "before"
                    times[grader].append(timed_batch(tmp / "submissions", tmp / f"grades-{grader}-{pair}", root))
            report = []
            for _ in range(3):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "instructor.class_report", str(tmp / "grades-now-0")], cwd=ROOT,
                               env=environment(), check=True, capture_output=True)
                report.append(time.perf_counter() - start)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "before")], cwd=ROOT,
                           capture_output=True)
    ratios = sorted(now / before for now, before in zip(times["now"], times["before"]))
    now, report = statistics.median(times["now"]), statistics.median(report)
    return lines + [
        "| a batch of the class | seconds | |", "| --- | --- | --- |",
        f"| this grader, its class report included (median), a student | {now / CLASS_SIZE:.1f} | |",
        f"| the grader of {BEFORE_THE_TERM} (median), a student | {statistics.median(times['before']) / CLASS_SIZE:.1f} | |",
        f"| this / {BEFORE_THE_TERM}, pair by pair | | **median {statistics.median(ratios):.2f}** (from "
        f"{ratios[0]:.2f} to {ratios[-1]:.2f}) |",
        f"| the class report alone, written again (median of 3), the class | {report:.1f} | "
        f"**{report / now:.1%}** of this grader's batch |"]


def rewrite_section(page, heading, lines):
    """page (the text of docs/speed.md) with its section under heading (up to the next "## " heading, or the
    end) replaced by lines; added at the end where there is none."""
    before, found, after = page.partition(f"\n{heading}\n")
    rest = after.split("\n## ", 1)
    tail = f"\n## {rest[1]}" if found and len(rest) > 1 else ""
    return before.rstrip("\n") + "\n\n" + "\n".join(lines).rstrip("\n") + "\n" + tail


def sandbox_section(pairs=5):
    """The page's section on what the sandbox costs: one grading in it against one without, alternating;
    returns its lines."""
    lines = [SANDBOX_TEXT.format(pairs=pairs), f"Measured on {datetime.date.today()}, on {machine()}.", ""]
    if probe() is not None:
        return lines + [f"Not measured: no sandbox can run here ({probe()})."]
    runs = {"required": [], "off": []}  # (peak MB, seconds, CPU seconds) of each grading
    for pair in range(pairs):
        for sandbox in ("required", "off") if pair % 2 == 0 else ("off", "required"):
            runs[sandbox].append(run_grading(1, sandbox))
    lines += ["| one grading, 1 thread | in the sandbox | without | in the sandbox / without, pair by pair |",
              "| --- | --- | --- | --- |"]
    for what, index, unit in (("time", 1, "s"), ("CPU time, all its processes", 2, "s"), ("peak memory", 0, "MB")):
        medians = [statistics.median(measured[index] for measured in runs[sandbox]) for sandbox in runs]
        ratios = sorted(a[index] / b[index] for a, b in zip(*runs.values()))
        lines.append(f"| {what} (medians) | {medians[0]:.1f} {unit} | {medians[1]:.1f} {unit} | "
                     f"**median {statistics.median(ratios):.2f}** (from {ratios[0]:.2f} to {ratios[-1]:.2f}) |")
    return lines


def environment():
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VAE_")},
            "MNIST_ROOT": str(mnist_root().resolve())}


def machine():
    """This machine in a line: the processor, the device, threads and torch."""
    cpuinfo = Path("/proc/cpuinfo")
    names = ([line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
              if line.startswith("model name")] if cpuinfo.is_file() else [])
    cpu = names[0] if names else platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"{cpu} ({os.cpu_count()} cores), {gpu}; {torch.get_num_threads()} threads, torch {torch.__version__}, "
            f"Python {platform.python_version()}")


TRAINING_TEXT = """\
## Training

One epoch over the 60 000 training images, every loop from the same initial
weights (the notebook's), so that every repeat does the same work:

- **the notebook's `train()`**, executed from its cells, as a student runs it:
  the helpers check their arguments on every call, the epoch's loss is read
  back step by step, a progress bar, a checkpoint after every epoch;
- **the bare loop**: the same networks, the same Adam and the same
  one-sample ELBO written with the same densities of `helpers.py`, over the
  same pre-binarized tensor, with the helpers' checks switched off: only what
  a step must do. `train()` and the bare loop run {repeats} times in pairs
  whose order alternates, so that the machine's noise and drift hit both alike;
- as references, {references} times each: the same loop with the densities as
  tutorials write them (log q(z | x) from the standard normal draw, constants
  dropped: the same value and gradients, a test checks), and the usual tutorial
  pipeline (a `DataLoader` over torchvision's MNIST with `ToTensor`,
  binarizing each batch).

Times are the best of each; the ratio of `train()` to the bare loop is the
median of its pairs, the figure to quote.
"""

OVERHEAD_TEXT = """\
### What `train()` adds to the bare loop

Timed where it runs: blocks of {block} training steps of four kinds (`train()`'s
step; the same with the helpers' checks switched off; the bare loop's step;
the tutorial's), rotated {rounds} times, whose differences within a round
cancel the machine's drift; a clock around each check over 150 steps (the
clocks add a little of their own); the fixed costs are medians of five.
"""

OVERHEAD_NOTES = """\
Each cost is something the assignment asks for:

- **The argument checks, on every step.** Bad input gets a clear error that
  names the argument, and the students' loop is the plain one, with nothing
  to switch the checks off. They are Python comparisons of types and shapes,
  a comparison of every pixel of the batch with 0 and 1, and an inf test of
  mu and log_sigma. On a GPU, the pixel and inf checks and the loss's `.item()` each read
  a value back from the device, so Python waits for the step's kernels
  there instead of queueing the next step's.
- **The binary check of all of `x_train`**, once a call: a grey pixel in any
  row is refused before a step is taken.
- **The checkpoint**: an interrupted run loses at most one epoch. A SHA-256
  digest, the serialization, the write and an fsync; most of it is Adam's
  state, which an exact resume needs, and the last one, of a finished run,
  leaves that state out.

The densities are the lesson's, not `train()`'s: `helpers.py` computes
log q(z | x) from z with the general Gaussian density and keeps every
constant, as the assignment asks, where tutorials take log q from the
standard normal draw and drop the constants (they cancel): the same value and
gradients for a dozen more small tensor operations a step.
"""

LIKELIHOOD_TEXT = """\
## The exact likelihood

The exact log p(x) of all {n_test} test digits sums p(x | z) p(z) over a
{points}² grid over [-{half:g}, {half:g}]², wider where a posterior needs it: a
matrix product of the digits by the decoded grid, plus one pass of `exp` over
the same table (its arguments clamped at -87, below which float32's `exp` takes
a slow path and the terms are under 1e-37 of the largest). The matrix product
of the same shape alone is its floor. The default rule sums narrow posteriors
again on a finer grid.
"""

GRADING_TEXT = """\
## Running and grading

`make run` with the committed model runs the notebook top to bottom (in a
scratch copy here). A grading merges the submission with the reference and
runs it under nbval with 2 epochs and 50 test digits, skipping the cells
tagged `learner-only`; its peak memory is summed over all its processes (PSS),
what a container's limit such as Gradescope's must hold, and the kernel,
which imports PyTorch, holds most of it. Each grading runs as `python -m
instructor.grade` does by default: in the sandbox where one can run (see the
next section). The last row compares grading as it
runs (each part's results judged by `instructor/judge.py` in a process of the
grader's) with the same merge running the notebook's checks in the kernel.
The class report's row is a batch of copies of the solution, every pair of
them similar work, then its report written again on its own: what the report
adds to a batch.
"""

CLASS_HEADING = "## A class"
CLASS_TEXT = CLASS_HEADING + """

A batch of {size} copies of the solution (`grade_batch --jobs 1`), by this
grader (unsandboxed: the sandbox's cost is the next section; its class report
and everything a term needs included: the digest and provenance of each
result, the gradebook, the exports, the written answers' pages) against a batch by
the grader of {before}, from before those, {pairs} pairs whose order
alternates; a ratio is the median of the pairs'. Then the class report alone,
written again from the batch's folder (`python -m instructor.class_report`),
against this grader's batch.
"""

SANDBOX_HEADING = "## The sandbox"
SANDBOX_TEXT = SANDBOX_HEADING + """

One grading of the solution in the sandbox (`--sandbox required`,
`instructor/sandbox.py`) against one without (`--sandbox off`), with 1
thread, {pairs} pairs whose order alternates, so that the machine's drift hits
both alike; a ratio is the median of the pairs'. The time depends on what
else the machine runs meanwhile; the CPU time, summed over the grading's
processes (sampled every 0.05 s, as the peak memory above), much less so.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timing (default 1)")
    parser.add_argument("--repeats", type=int, default=25,
                        help="timings of train() and of the bare loop (default 25)")
    parser.add_argument("--eval-images", type=int, default=500,
                        help="test images for exact log p(x) against IWAE (default 500)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "speed.md",
                        help="the page to write (default docs/speed.md)")
    parser.add_argument("--grading-only", action="store_true",
                        help="measure only one grading: its time and peak memory, printed; no page is written")
    parser.add_argument("--sandbox-only", action="store_true",
                        help="measure only the sandbox's cost, and rewrite only its section of the page")
    parser.add_argument("--class-only", action="store_true",
                        help="measure only a class's batch and its report, and rewrite only that section")
    args = parser.parse_args()
    if min(args.epochs, args.repeats, args.eval_images) < 1:
        parser.error("--epochs, --repeats and --eval-images must be at least 1")
    if args.grading_only:
        print("\n".join(grading_rows()))
        return
    if args.sandbox_only or args.class_only:
        heading, lines = (SANDBOX_HEADING, sandbox_section()) if args.sandbox_only else (CLASS_HEADING, class_section())
        print("\n".join(lines))
        page = rewrite_section(args.out.read_text(), heading, lines)
        write_atomically(args.out, lambda f: f.write(page.encode()), "the speed page")
        print(f"\nwrote {args.out}")
        return

    page = []

    def say(text=""):
        """A line of the page, shown as it comes."""
        print(text, flush=True)
        page.append(text)

    say("# Speed: where people wait")
    say()
    say(f"Written by `make benchmark` (`python -m tools.benchmark`) on {datetime.date.today()}, on "
        f"{machine()}. Not edited by hand: run it again to measure your machine. A machine's speed drifts "
        "from hour to hour, so compare figures from one run, as ratios.")
    say()

    nb = notebook_namespace()
    device, x_train, config = nb["device"], nb["x_train"], nb["CONFIG"]
    initial_weights = {name: copy.deepcopy(nb[name].state_dict()) for name in ("encoder", "decoder")}
    # train() against the bare loop, in pairs whose order alternates; the slower references less often.
    candidates = {"the notebook's `train()`": lambda: run_notebook(nb, initial_weights, args.epochs),
                  "the bare loop": lambda: run_bare(x_train, config, initial_weights, args.epochs)}
    references = {
        "the tutorial's densities": lambda: run_bare(x_train, config, initial_weights, args.epochs, tutorial_loss),
        "`DataLoader` + `ToTensor`": lambda: run_dataloader(config, initial_weights, device, args.epochs),
    }
    notebook, bare = candidates
    times = {name: [] for name in [*candidates, *references]}
    reference_repeats = range(min(2, args.repeats - 1), args.repeats, 5)  # at least one, however few repeats
    for repeat in range(args.repeats):
        for name in (list(candidates) if repeat % 2 == 0 else list(reversed(candidates))):
            times[name].append(timed(candidates[name], device))
        if repeat in reference_repeats:
            for name, run in references.items():
                times[name].append(timed(run, device))
    best = {name: min(seconds) for name, seconds in times.items()}

    say(TRAINING_TEXT.format(repeats=args.repeats, references=len(reference_repeats)))
    images = args.epochs * len(x_train)
    say(f"| {args.epochs} epoch(s) of {len(x_train)} images on the {device.type.upper()} | seconds | images/s "
        "| time / the bare loop |")
    say("| --- | --- | --- | --- |")
    for name, seconds in best.items():
        say(f"| {name} | {seconds:.2f} | {images / seconds:.0f} | {seconds / best[bare]:.2f} |")
    paired = sorted(a / b for a, b in zip(times[notebook], times[bare]))
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    say()
    say(f"`train()` / the bare loop, pair by pair: **median {statistics.median(paired):.3f}** (quartiles "
        f"{quartiles[0]:.3f} and {quartiles[2]:.3f}, from {paired[0]:.3f} to {paired[-1]:.3f}: the spread is "
        f"the machine's noise). 100 epochs of `train()` take about "
        f"{100 * best[notebook] / args.epochs / 60:.1f} minutes here.")
    say()

    step_seconds, step_differences, check_seconds, data_check_seconds, checkpoint_seconds = train_overheads(nb)
    epoch_seconds = best[notebook] / args.epochs
    say(OVERHEAD_TEXT.format(block=OVERHEAD_BLOCK, rounds=OVERHEAD_ROUNDS))
    say(f"| a `train()` step takes {1e3 * step_seconds:.2f} ms, an epoch {epoch_seconds:.2f} s | cost | share |")
    say("| --- | --- | --- |")
    for what in (ALL_CHECKS, FUNCTIONS):
        seconds = step_differences[what]
        say(f"| {what}, every step | {1e6 * seconds:.0f} µs | {seconds / step_seconds:.1%} of a step |")
    for part, seconds in check_seconds.items():
        say(f"| of the checks, {part} (a clock around it) | {1e6 * seconds:.0f} µs | "
            f"{seconds / step_seconds:.1%} of a step |")
    say(f"| the binary check of all of `x_train`, once a call | {1e3 * data_check_seconds:.1f} ms | "
        f"{data_check_seconds / epoch_seconds:.1%} of an epoch |")
    for what, seconds in checkpoint_seconds.items():
        say(f"| a checkpoint with its digest, {what} | {1e3 * seconds:.1f} ms | {seconds / epoch_seconds:.1%} "
            "of an epoch |")
    # The same ratio from these parts: less noisy than whole epochs, as each part is timed many times.
    n_steps = args.epochs * math.ceil(len(x_train) / config["batch_size"])
    added = (n_steps * (step_differences[ALL_CHECKS] + step_differences[FUNCTIONS]) + data_check_seconds
             + (args.epochs - 1) * checkpoint_seconds[AFTER_EPOCH] + checkpoint_seconds[LAST])
    bare_seconds = statistics.median(times[bare])
    say(f"| all of it, for a {args.epochs}-epoch call | {1e3 * added:.0f} ms | `train()` / the bare loop from "
        f"these parts: 1 + {1e3 * added:.0f} ms / {bare_seconds:.2f} s (the median bare loop) = "
        f"**{1 + added / bare_seconds:.3f}** |")
    say(f"| {DENSITIES}, every step | {1e6 * step_differences[DENSITIES]:.0f} µs | "
        f"{step_differences[DENSITIES] / step_seconds:.1%} of a step |")
    say()
    say(OVERHEAD_NOTES)

    # The committed model: its posteriors decide how many digits need a wider or a finer grid.
    model = reference_model(*networks_from_checkpoint(load_checkpoint(ROOT / "models" / "vae_100epochs.pt"), device))
    x_test = nb["x_test"]
    grid_seconds = timed(lambda: exact_log_marginal(model, x_test, width_per_spacing=0), device)
    exact_seconds = timed(lambda: exact_log_marginal(model, x_test), device)
    matmul_seconds = timed(lambda: same_shape_matmul(x_test, GRID_POINTS ** 2), device)
    say(LIKELIHOOD_TEXT.format(n_test=len(x_test), points=GRID_POINTS, half=GRID_HALF_WIDTH))
    say(f"| all {len(x_test)} test digits | seconds | |")
    say("| --- | --- | --- |")
    say(f"| the exact log p(x) on the grid (`width_per_spacing=0`) | {grid_seconds:.2f} | "
        f"{matmul_seconds / grid_seconds:.0%} of the matrix-multiply rate |")
    say(f"| the matrix product of the same shape alone | {matmul_seconds:.2f} | |")
    say(f"| the exact log p(x), narrow posteriors again on a finer grid (the default) | {exact_seconds:.2f} | "
        f"{exact_seconds / grid_seconds:.1f} × the grid alone |")
    x_eval = x_test[:args.eval_images]
    eval_seconds = timed(lambda: exact_log_marginal(model, x_eval), device)
    iwae_seconds = timed(lambda: importance_bounds(model, x_eval, ks=(5000,), elbo_draws=1), device)
    say(f"| IWAE with k = 5000 on the first {len(x_eval)} | {iwae_seconds:.2f} | "
        f"{iwae_seconds / eval_seconds:.1f} × the exact log p(x) of the same digits ({eval_seconds:.2f} s) |")
    say()
    finest_points, rows = per_digit_accuracy(model, x_test)
    say(f"Digit by digit, on 600 random test digits, |error| in nats against a {finest_points}² grid:")
    say()
    say("| | median | 90 % | 99 % | worst | seconds |")
    say("| --- | --- | --- | --- | --- | --- |")
    for name, width_per_spacing, median, p90, p99, worst, seconds in rows:
        say(f"| {name} (`width_per_spacing={width_per_spacing:g}`) | {median:.5f} | {p90:.5f} | {p99:.4f} | "
            f"{worst:.4f} | {seconds:.2f} |")
    say()

    say(GRADING_TEXT)
    notebook_seconds = timed(run_notebook_copy, device)
    say("| | time | |")
    say("| --- | --- | --- |")
    say(f"| `make run` with the committed model | {notebook_seconds:.1f} s | |")
    for row in grading_rows():
        say(row)
    say()
    for line in class_section():
        say(line)
    say()
    for line in sandbox_section():
        say(line)
    write_atomically(args.out, lambda f: f.write(("\n".join(page) + "\n").encode()), "the speed page")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
