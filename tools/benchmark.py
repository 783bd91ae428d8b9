"""Where people wait: training, the exact likelihood, the learner's run and one grading.

    python tools/benchmark.py [--epochs 1] [--repeats 25] [--eval-images 500] [--grading-only]

1. notebook   the notebook's own ``train`` (executed from its cells), with its
              argument checks, progress bar and a checkpoint after every epoch;
2. bare       a bare PyTorch loop over the same pre-binarized tensor: the same
              networks, optimizer (Adam, fused as in ``train``) and one-sample
              ELBO, written out with the same densities of helpers.py (their
              checks skipped), nothing else: what ``train`` adds as a loop;
3. tutorial densities  the same loop with the densities as tutorials write
              them (log q from the standard normal draw, constants dropped):
              what the lesson's general densities cost;
4. tutorial, default Adam  that loop with PyTorch's default Adam, the loop
              most people write: what the fused optimizer saves;
5. dataloader the usual tutorial pipeline: a DataLoader over torchvision's
              MNIST with ToTensor, binarizing each batch in the loop, with the
              tutorial densities and the default Adam.

All five start from the same initial weights (the notebook's), so that every
repeat does the same work: the notebook's networks would otherwise go on
training from one repeat to the next. The first two run ``--repeats`` times
in pairs whose order alternates, so that background noise and drift hit
both alike, the other three once every five pairs. Prints the best time of
each with images per second and its ratio to the bare loop, then the median
and quartiles of the ratio of ``train`` to the bare loop pair by pair, the
figure to quote: on a busy machine single runs scatter by several
percent. Then what ``train`` adds, timed where it runs: blocks of 20
training steps of four kinds, rotated 60 times so that drift cancels (the
notebook's step with every argument check of helpers.py, as ``train`` runs
its first step; with none, as it runs the others; the bare loop's step; the
tutorial's step), which give what the checks, the notebook's functions
around the densities and the general densities cost; the checks
one by one from a clock around each over 150 steps (the clocks add time of
their own); the binary check of all of x_train, and a checkpoint after an
epoch and the last one; and the ratio of ``train`` to the bare loop that
these parts add up to, which scatters less than whole epochs do.

Then the exact log p(x) of all 10 000 test images against a matrix product
of the same shape (images x pixels by pixels x grid points, in the same
blocks): the fraction of the matrix-multiply rate the quadrature on that grid
reaches, and the time with the default rule that sums narrow posteriors again
on a finer grid. The exact value's accuracy digit by digit: 600 random test
digits on the grid alone, with the default rule and with a stricter one,
against a grid four times as fine. On the same ``--eval-images`` test
images, the IWAE bound with k = 5000 against the quadrature. Last, the two
things a person waits for as a whole: the notebook run top to bottom with the
committed model (what ``make run`` does, in a scratch copy) and one grading
of the solution (``tools/grade.py``), with one thread and with the default,
each with its peak memory summed over all its processes (tools/memory.py),
what a container's limit such as Gradescope's must hold; and, side by side
with it, the same merge run with the notebook's own checks in the kernel, as
grading ran before its judge moved out of the kernel (the probes on secret
inputs and tools/judge.py): what that move costs, as a ratio.
"""
import argparse
import contextlib
import copy
import itertools
import math
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import helpers  # noqa: E402
from checkpoints import load_checkpoint, save_checkpoint, training_state  # noqa: E402
from evaluation import (GRID_HALF_WIDTH, GRID_POINTS, WIDTH_PER_SPACING, exact_log_marginal,  # noqa: E402
                        importance_bounds)
from mnist import mnist_root  # noqa: E402
from tools.grade import GRADING_ENV, SUPPORT_MODULES, is_graded, merge  # noqa: E402
from tools.markers import strip_solutions  # noqa: E402
from tools.memory import watch  # noqa: E402
from tools.reference_model import build_networks, networks_from_checkpoint, reference_model  # noqa: E402
from tools.notebook_code import notebook_namespace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def adam(encoder, decoder, config, fused=True):
    """Adam over both networks: ``fused=True`` as train() makes it, None for PyTorch's default for the device."""
    return torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=config["lr"], fused=fused)


def networks(config, initial_weights, device, fused):
    """Fresh networks holding ``initial_weights`` ({"encoder": state_dict, "decoder": ...}), and adam()."""
    encoder, decoder = (net.to(device) for net in build_networks(config))
    encoder.load_state_dict(initial_weights["encoder"])
    decoder.load_state_dict(initial_weights["decoder"])
    return encoder, decoder, adam(encoder, decoder, config, fused)


def bare_loss(encoder, decoder, x):
    """The notebook's one-sample negative ELBO, written out with the same densities of helpers.py
    as its cells use. Call it inside helpers.checks_skipped(). x: (B, 784) -> scalar"""
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


def run_bare(x_train, config, initial_weights, n_epochs, loss=bare_loss, fused=True):
    """A bare loop of Adam steps on ``loss`` over shuffled batches of x_train, from ``initial_weights``."""
    encoder, decoder, optimizer = networks(config, initial_weights, x_train.device, fused)
    n, batch_size = len(x_train), config["batch_size"]
    with helpers.checks_skipped():
        for _ in range(n_epochs):
            order = torch.randperm(n).to(x_train.device)
            for start in range(0, n, batch_size):
                adam_step(encoder, decoder, optimizer, x_train[order[start:start + batch_size]], loss)


def run_dataloader(config, initial_weights, device, n_epochs):
    encoder, decoder, optimizer = networks(config, initial_weights, device, fused=None)
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
ALL_CHECKS = "every argument check (train()'s first step)"
FUNCTIONS = "the notebook's functions around the densities"
DENSITIES = "the general densities against the tutorial's"
AFTER_EPOCH, LAST = "after an epoch", "the last (no Adam state)"
CHECKS = {"binary check of the batch (and of its form)": ("check_binary",),
          "inf check of mu and log_sigma": ("check_gaussian_parameters",),
          "shape and type checks": ("check_batch", "check_same_shape")}


@contextlib.contextmanager
def checks_replaced(replacement):
    """Inside the block, every argument check of helpers.py is replacement(part, check)."""
    originals = {name: getattr(helpers, name) for names in CHECKS.values() for name in names}
    try:
        for part, names in CHECKS.items():
            for name in names:
                setattr(helpers, name, replacement(part, originals[name]))
        yield
    finally:
        for name, check in originals.items():
            setattr(helpers, name, check)


def train_overheads(nb, n_steps=150, n_rounds=OVERHEAD_ROUNDS, block=OVERHEAD_BLOCK):
    """What train() adds to the bare loop, timed where it runs.

    Blocks of ``block`` training steps of four kinds, in an order that rotates, ``n_rounds``
    times: the notebook's step with every argument check (train()'s first step), with none
    (its other steps, inside helpers.checks_skipped), the bare loop's step and the tutorial's,
    all on the same networks and optimizer. Medians of the differences within a round cancel
    the machine's drift.

    returns (seconds a notebook step; {what: seconds a step}: every check, the notebook's
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
        return nb["loss"](x)

    def steps(loss, n, checked=False):
        with helpers.checks_skipped(active=not checked):
            for _ in range(n):
                start = next(batches) * batch_size % len(x_train)
                adam_step(encoder, decoder, optimizer, x_train[order[start:start + batch_size]], loss)

    with checks_replaced(clocked):
        step_seconds = timed(lambda: steps(notebook_loss, n_steps, checked=True), device) / n_steps
    kinds = {"checked": lambda n: steps(notebook_loss, n, checked=True),
             "unchecked": lambda n: steps(notebook_loss, n),
             "bare": lambda n: steps(bare_loss, n), "tutorial": lambda n: steps(tutorial_loss, n)}
    comparisons = ((ALL_CHECKS, "checked", "unchecked"), (FUNCTIONS, "unchecked", "bare"),
                   (DENSITIES, "bare", "tutorial"))
    differences = {what: [] for what, _, _ in comparisons}
    for round_ in range(n_rounds):
        names = list(kinds)[round_ % len(kinds):] + list(kinds)[:round_ % len(kinds)]
        seconds = {name: timed(lambda: kinds[name](block), device) / block for name in names}
        for what, slower, faster in comparisons:
            differences[what].append(seconds[slower] - seconds[faster])
    data_check_seconds = median_time(lambda: helpers.check_binary("x_train", x_train), device)
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
    with the default rule for narrow posteriors, and with a stricter one; with the time of each."""
    picked = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(seed))[:n_digits]
    x = x_test[picked.to(x_test.device)]
    finest_points = 4 * (GRID_POINTS - 1) + 1
    finest = exact_log_marginal(model, x, GRID_HALF_WIDTH, finest_points, width_per_spacing=0)
    print(f"\nper digit, on {n_digits} random test digits, |error| against {finest_points}^2 points:")
    for name, width_per_spacing in (("the grid alone", 0), ("default rule", WIDTH_PER_SPACING),
                                    ("stricter rule", 0.6)):
        log_px = []
        seconds = timed(lambda: log_px.append(exact_log_marginal(model, x, width_per_spacing=width_per_spacing)),
                        x.device)
        error = (log_px[0] - finest).abs().double().cpu()
        median, p90, p99 = torch.quantile(error, torch.tensor([0.5, 0.9, 0.99], dtype=torch.float64)).tolist()
        print(f"  {name} (width_per_spacing={width_per_spacing:g}): median {median:.5f}, 90% {p90:.5f}, "
              f"99% {p99:.4f}, worst {error.max():.4f} nats; {seconds:.2f} s")


def run_notebook_copy():
    """The notebook top to bottom with the committed model, as make run does, in a scratch folder."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("A3_VAE.ipynb", "helpers.py", *SUPPORT_MODULES):
            shutil.copy(ROOT / name, tmp)
        shutil.copytree(ROOT / "models", Path(tmp) / "models")
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                        "--inplace", "--ExecutePreprocessor.timeout=-1", "A3_VAE.ipynb"],
                       cwd=tmp, check=True, capture_output=True, env=environment())


def run_grading(threads=None):
    """tools/grade.py on a copy of the solution; returns (peak PSS of all its processes in MB, seconds).

    threads: OMP_NUM_THREADS for it (None: torch's own choice)
    """
    env = environment() if threads is None else {**environment(), "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("A3_VAE.ipynb", "helpers.py"):
            shutil.copy(ROOT / name, tmp)
        child = subprocess.Popen([sys.executable, str(ROOT / "tools" / "grade.py"), tmp],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        peak_mb, seconds = watch(child)
    if child.returncode != 0:
        raise RuntimeError(f"grading the solution failed (exit code {child.returncode})")
    return peak_mb, seconds


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
        for name in ("helpers.py", *SUPPORT_MODULES):
            shutil.copy(ROOT / name, tmp)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                        "-q", "A3_VAE.ipynb"], cwd=tmp, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def print_grading():
    """One grading of the solution, with one thread and with torch's default: its time and peak memory;
    then grading against the checks run in the kernel, alternating, with one thread."""
    print("\none grading (tools/grade.py on the solution), all its processes together:")
    for threads in (1, None):
        peak_mb, seconds = run_grading(threads)
        print(f"  {'1 thread' if threads else f'{torch.get_num_threads()} threads (the default)':24}"
              f"{seconds:6.1f} s, peak memory {peak_mb:5.0f} MB (PSS summed over the processes)")
    judged, in_kernel = [], []
    for _ in range(3):
        judged.append(run_grading(1)[1])
        in_kernel.append(run_checks_in_kernel(1))
    print(f"  judged outside the kernel / the checks in the kernel, 1 thread, 3 of each alternating: "
          f"{statistics.median(judged):.1f} s / {statistics.median(in_kernel):.1f} s (medians) = "
          f"{statistics.median(judged) / statistics.median(in_kernel):.2f}")


def environment():
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VAE_")},
            "MNIST_ROOT": str(mnist_root().resolve()), "VAE_GRADER": str(ROOT / "tools")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timing (default 1)")
    parser.add_argument("--repeats", type=int, default=25,
                        help="timings of train() and of the bare loop (default 25)")
    parser.add_argument("--eval-images", type=int, default=500,
                        help="test images for exact log p(x) against IWAE (default 500)")
    parser.add_argument("--grading-only", action="store_true",
                        help="measure only one grading: its time and peak memory")
    args = parser.parse_args()
    if min(args.epochs, args.repeats, args.eval_images) < 1:
        parser.error("--epochs, --repeats and --eval-images must be at least 1")
    if args.grading_only:
        print_grading()
        return

    nb = notebook_namespace()
    device, x_train, config = nb["device"], nb["x_train"], nb["CONFIG"]
    initial_weights = {name: copy.deepcopy(nb[name].state_dict()) for name in ("encoder", "decoder")}
    # train() against the bare loop, in pairs whose order alternates; the slower references less often.
    candidates = {"notebook train()": lambda: run_notebook(nb, initial_weights, args.epochs),
                  "bare loop": lambda: run_bare(x_train, config, initial_weights, args.epochs)}
    references = {
        "tutorial densities": lambda: run_bare(x_train, config, initial_weights, args.epochs, tutorial_loss),
        "tutorial, default Adam": lambda: run_bare(x_train, config, initial_weights, args.epochs, tutorial_loss,
                                                   fused=None),
        "DataLoader + ToTensor": lambda: run_dataloader(config, initial_weights, device, args.epochs),
    }
    times = {name: [] for name in [*candidates, *references]}
    reference_repeats = range(min(2, args.repeats - 1), args.repeats, 5)  # at least one, however few repeats
    for repeat in range(args.repeats):
        for name in (list(candidates) if repeat % 2 == 0 else list(reversed(candidates))):
            times[name].append(timed(candidates[name], device))
        if repeat in reference_repeats:
            for name, run in references.items():
                times[name].append(timed(run, device))
    best = {name: min(seconds) for name, seconds in times.items()}

    images = args.epochs * len(x_train)
    print(f"\ndevice {device}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.epochs} epoch(s) of {len(x_train)} images, best of {args.repeats} "
          f"({len(times['DataLoader + ToTensor'])} for the last three)")
    print(f"{'':24}{'seconds':>9}{'images/s':>11}{'time / bare':>13}")
    for name, seconds in best.items():
        print(f"{name:24}{seconds:9.2f}{images / seconds:11.0f}{seconds / best['bare loop']:13.2f}")
    paired = sorted(a / b for a, b in zip(times["notebook train()"], times["bare loop"]))
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    print(f"notebook train() / bare loop, pair by pair: median {statistics.median(paired):.3f}, quartiles "
          f"{quartiles[0]:.3f} and {quartiles[2]:.3f}, from {paired[0]:.3f} to {paired[-1]:.3f} "
          "(the spread is the machine's noise)")
    print(f"100 epochs of the notebook's train() would take about "
          f"{100 * best['notebook train()'] / args.epochs / 60:.1f} minutes here")

    step_seconds, step_differences, check_seconds, data_check_seconds, checkpoint_seconds = train_overheads(nb)
    epoch_seconds = best["notebook train()"] / args.epochs
    print(f"\nwhat train() adds, timed where it runs (a step takes {1e3 * step_seconds:.2f} ms, "
          f"an epoch {epoch_seconds:.2f} s); blocks of {OVERHEAD_BLOCK} steps of four kinds, "
          f"rotated {OVERHEAD_ROUNDS} times:")
    for what, seconds in step_differences.items():
        print(f"  {what + ', a step':52}{1e6 * seconds:6.0f} us, {seconds / step_seconds:6.1%}")
    print("  the checks one by one, a clock around each (the clocks add time of their own):")
    for part, seconds in check_seconds.items():
        print(f"  {part:52}{1e6 * seconds:6.0f} us, {seconds / step_seconds:6.1%}")
    print(f"  {'binary check of all of x_train, a train() call':52}{1e3 * data_check_seconds:6.1f} ms, "
          f"{data_check_seconds / epoch_seconds:5.1%} of an epoch")
    for what, seconds in checkpoint_seconds.items():
        print(f"  {'checkpoint with its digest, ' + what:52}{1e3 * seconds:6.1f} ms, "
              f"{seconds / epoch_seconds:5.1%} of an epoch")
    # The same ratio from these parts: less noisy than whole epochs, as each part is timed many times.
    n_steps = args.epochs * math.ceil(len(x_train) / config["batch_size"])
    added = (n_steps * step_differences[FUNCTIONS] + step_differences[ALL_CHECKS] + data_check_seconds
             + (args.epochs - 1) * checkpoint_seconds[AFTER_EPOCH] + checkpoint_seconds[LAST])
    bare_seconds = statistics.median(times["bare loop"])
    print(f"  notebook train() / bare loop from these parts: 1 + {1e3 * added:.1f} ms / {bare_seconds:.2f} s "
          f"(the median bare loop) = {1 + added / bare_seconds:.3f}")

    # The committed model: its posteriors decide how many digits need a wider or a finer grid.
    model = reference_model(*networks_from_checkpoint(load_checkpoint(ROOT / "models" / "vae_100epochs.pt"), device))
    x_test = nb["x_test"]
    grid_seconds = timed(lambda: exact_log_marginal(model, x_test, width_per_spacing=0), device)
    exact_seconds = timed(lambda: exact_log_marginal(model, x_test), device)
    matmul_seconds = timed(lambda: same_shape_matmul(x_test, GRID_POINTS ** 2), device)
    print(f"\nexact log p(x) of all {len(x_test)} test images ({GRID_POINTS}^2 grid over "
          f"[-{GRID_HALF_WIDTH:g}, {GRID_HALF_WIDTH:g}]^2, wider where a posterior needs it): "
          f"{grid_seconds:.2f} s; the matrix product of the same shape alone {matmul_seconds:.2f} s: "
          f"{matmul_seconds / grid_seconds:.0%} of the matrix-multiply rate; with narrow posteriors "
          f"summed on a finer grid (the default) {exact_seconds:.2f} s")

    per_digit_accuracy(model, x_test)

    x_eval = x_test[:args.eval_images]
    exact_seconds = timed(lambda: exact_log_marginal(model, x_eval), device)
    iwae_seconds = timed(lambda: importance_bounds(model, x_eval, ks=(5000,), elbo_draws=1), device)
    print(f"{len(x_eval)} test images: exact log p(x) {exact_seconds:.2f} s, IWAE with k = 5000 "
          f"{iwae_seconds:.2f} s; IWAE / exact = {iwae_seconds / exact_seconds:.1f}")

    notebook_seconds = timed(run_notebook_copy, device)
    print(f"\nthe notebook top to bottom with the committed model (make run): {notebook_seconds:.1f} s")
    print_grading()


if __name__ == "__main__":
    main()
