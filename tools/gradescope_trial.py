"""Try the Gradescope autograder as Gradescope runs it, on a bare system, and measure it.

    sudo python -m tools.gradescope_trial WORK_DIR [--memory-mb 768] [--cpus 0.5] [--reuse-root]
    sudo python -m tools.gradescope_trial WORK_DIR --gradescope-sizes [--write-docs]

Needs root, debootstrap and Linux cgroups (tried with cgroup v1; v2 is written but untried). It

1. builds a fresh minimal Debian root in WORK_DIR/root (debootstrap's minbase with only
   python3, pip and CA certificates), the closest stand-in for Gradescope's base image
   that a machine without Docker has; --reuse-root keeps one built before;
2. unpacks the autograder zip (instructor/gradescope.py make) into /autograder/source there
   and runs setup.sh as root, as Gradescope does when it builds the image;
3. grades four submissions with run_autograder, each in a cgroup with Gradescope's
   default limits (768 MB of memory, half a CPU; --memory-mb and --cpus change them) and
   its 10-minute limit: the solution, a planted mistake, the solution with a cell that
   fails if it can read the grader's files (it scores full points only when the student's
   code runs isolated, as vae-student) and a notebook that is not JSON;
4. prints, for each, the score, the time, and the peak memory: summed over the
   grading's processes (PSS, sampled every 0.05 s) and as the cgroup counts it.

With --gradescope-sizes it grades them at each size Gradescope's autograder settings offer,
smallest first, and stops at the first that grades all four as they should be (the solution
and the snoop every point, the mistake all but the lattice's, the broken notebook none);
--write-docs then writes that table into docs/grading.md, between its markers.

The host's pip configuration, certificates and PIP_* variables are copied in so that pip
reaches the same registry; the MNIST files of $MNIST_ROOT are put where setup.sh would
download them, since this machine may have no internet. Nothing here runs in the test
suite: it takes several minutes and a few GB of disk.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from instructor.gradescope import make
from instructor.layout import parts_of
from tools.memory import watch
from vaekit.files import write_atomically

ROOT = Path(__file__).resolve().parents[1]

GRADESCOPE_LIMIT_S = 600
PIP_CONFIGS = ("/etc/pip.conf", "/etc/xdg/pip", "/root/.config/pip", "/root/.pip")
MOUNTS = ("proc", "sys", "dev")
MISTAKE = ("torch.meshgrid(ticks.flip(0), ticks,", "torch.meshgrid(ticks, ticks,")  # the lattice upside down
# Code of the student's that fails (and costs log_prior and the parts after it) where it can read the
# grader's files: the snooping submission gets every point only if the student's code runs isolated.
SNOOP = """for secret in ("/autograder/source/A3_VAE.ipynb", "/autograder/source/instructor/judge.py"):
    try:
        open(secret).close()
        raise RuntimeError(f"the grader's {secret} is readable by the student's code")
    except PermissionError:
        pass
"""


# The sizes Gradescope's autograder settings offer (gradescope/autograder_samples, docs/troubleshooting.md):
# (name, memory in MB, CPUs), smallest first.
GRADESCOPE_SIZES = (("0.5 CPU, 0.75 GB (the default)", 768, 0.5), ("1 CPU, 1.5 GB", 1536, 1.0),
                    ("2 CPUs, 3 GB", 3072, 2.0), ("4 CPUs, 6 GB", 6144, 4.0))
DOCS = ROOT / "docs" / "grading.md"
TABLE_START = "<!-- the Gradescope trial's table: written by python -m tools.gradescope_trial --write-docs -->"
TABLE_END = "<!-- end of the Gradescope trial's table -->"


def sh(*command, **kwargs):
    print("+", " ".join(map(str, command)), flush=True)
    return subprocess.run(list(map(str, command)), check=True, **kwargs)


def build_root(root):
    """A fresh minimal Debian with python3 and pip, the host's pip settings and certificates."""
    sh("debootstrap", "--variant=minbase", "--include=python3,python3-pip,ca-certificates",
       "bookworm", root, "http://deb.debian.org/debian")
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    certificates = Path("/etc/ssl/certs/ca-certificates.crt")
    if certificates.is_file():
        shutil.copy(certificates, root / "etc/ssl/certs/ca-certificates.crt")
    for config in map(Path, PIP_CONFIGS):
        if config.exists():
            target = root / config.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if config.is_dir() else shutil.copy)(config, target)


def mounted(root, wheels):
    """Bind-mount /proc, /sys, /dev (and the host's local wheels, which pip's settings may name) into root."""
    points = [(Path("/") / name, root / name) for name in MOUNTS]
    if wheels.is_dir():
        points.append((wheels, root / wheels.relative_to("/")))
    for source, target in points:
        target.mkdir(parents=True, exist_ok=True)
        sh("mount", "--bind", source, target)
    return [target for _, target in points]


def chroot(root, command, env, limits=None):
    """Run command (a list) in root as root; in a cgroup with limits (memory bytes, cpus) if given."""
    preexec = (lambda: limits.join(os.getpid())) if limits else None
    return subprocess.Popen(["chroot", str(root), *command], env=env, preexec_fn=preexec)


class Cgroup:
    """A cgroup (v1 or v2) with a memory limit and a CPU quota; peak() is the memory it saw at most."""

    def __init__(self, name, memory_bytes, cpus):
        self.v2 = Path("/sys/fs/cgroup/cgroup.controllers").is_file()
        period = 100_000
        if self.v2:
            self.dirs = [Path("/sys/fs/cgroup") / name]
            self.dirs[0].mkdir()
            (self.dirs[0] / "memory.max").write_text(str(memory_bytes))
            (self.dirs[0] / "memory.swap.max").write_text("0")
            (self.dirs[0] / "cpu.max").write_text(f"{int(cpus * period)} {period}")
        else:
            memory, cpu = Path("/sys/fs/cgroup/memory") / name, Path("/sys/fs/cgroup/cpu") / name
            self.dirs = [memory, cpu]
            for folder in self.dirs:
                folder.mkdir()
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            (cpu / "cpu.cfs_period_us").write_text(str(period))
            (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))

    def join(self, pid):
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(pid))

    def peak(self):
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        peak_file = self.dirs[0] / name
        return int(peak_file.read_text()) if peak_file.is_file() else None

    def oom_kills(self):
        events = self.dirs[0] / ("memory.events" if self.v2 else "memory.oom_control")
        for line in events.read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return None

    def remove(self):
        for folder in self.dirs:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def grade_one(root, name, files, env, memory_bytes, cpus):
    """Grade the files {name in the submission: bytes} with run_autograder; returns a row of measurements."""
    autograder = root / "autograder"
    for folder in ("submission", "results"):
        shutil.rmtree(autograder / folder, ignore_errors=True)
        (autograder / folder).mkdir()
    for file_name, content in files.items():
        (autograder / "submission" / file_name).write_bytes(content)
    limits = Cgroup(f"vae-trial-{os.getpid()}-{name}", memory_bytes, cpus)
    try:
        child = chroot(root, ["/autograder/run_autograder"], env, limits)
        peak_pss, seconds, _ = watch(child, GRADESCOPE_LIMIT_S)
        cgroup_peak, oom_kills = limits.peak(), limits.oom_kills()
    finally:
        limits.remove()
    results_file = autograder / "results" / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else None
    return {"submission": name, "exit code": child.returncode, "seconds": round(seconds, 1),
            "peak PSS MB": round(peak_pss), "cgroup peak MB": cgroup_peak and round(cgroup_peak / 2 ** 20),
            "OOM kills": oom_kills, "score": results and results["score"],
            "max score": results and sum(test["max_score"] for test in results["tests"]),
            "output": results and results["output"].splitlines()[0]}


def edited(solution, old, new):
    """The solution notebook (JSON text) with old replaced by new in the code cell that holds it."""
    notebook = json.loads(solution)
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and old in source:
            cell["source"] = source.replace(old, new)
    return json.dumps(notebook).encode()


def submissions():
    """{name: {file: bytes}}: the solution, a planted mistake, one that snoops, a broken notebook."""
    solution = (ROOT / "A3_VAE.ipynb").read_text()
    helpers = (ROOT / "helpers.py").read_bytes()
    return {"solution": {"A3_VAE.ipynb": solution.encode(), "helpers.py": helpers},
            "mistake": {"A3_VAE.ipynb": edited(solution, *MISTAKE), "helpers.py": helpers},
            "snoop": {"A3_VAE.ipynb": edited(solution, "def log_prior(z):", SNOOP + "\n\ndef log_prior(z):"),
                      "helpers.py": helpers},
            "broken": {"A3_VAE.ipynb": b"{ this is not JSON", "helpers.py": helpers}}


def as_it_should_be(rows):
    """Whether the submissions were graded right: the solution and the snoop every point, the mistake all but
    the lattice's, the broken notebook none."""
    score = {row["submission"]: row["score"] for row in rows}
    full = next((row["max score"] for row in rows if row["submission"] == "solution"), None)
    lattice = dict(parts_of(nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)))["lattice (5.4)"]
    return full is not None and score == {"solution": full, "mistake": full - lattice, "snoop": full, "broken": 0}


def cell(row):
    """One submission's result, as the table shows it."""
    if row["OOM kills"]:
        return f"killed for memory: {row['score'] or 0}, {row['output'] or 'no result'}"
    return f"{row['score']} of {row['max score']}, {row['seconds']:.0f} s, cgroup {row['cgroup peak MB']} MB"


def table(results, setup_line):
    """The docs' table: a row per size tried, then which is the smallest that grades as it should."""
    lines = [TABLE_START, "", f"Written by the trial on {datetime.date.today()} ({setup_line}):", "",
             "| size | solution | planted mistake | snoop | broken notebook |", "| --- | --- | --- | --- | --- |"]
    for name, rows in results:
        by_name = {row["submission"]: cell(row) for row in rows}
        lines.append(f"| {name} | {by_name['solution']} | {by_name['mistake']} | {by_name['snoop']} | "
                     f"{by_name['broken']} |")
    good = next((name for name, rows in results if as_it_should_be(rows)), None)
    lines += ["", f"The smallest size that grades all four as they should be: **{good}**." if good else
              "No size tried graded all four as they should be.", "", TABLE_END]
    return "\n".join(lines)


def write_docs(text):
    """Put text in place of the table between the markers of docs/grading.md."""
    page = DOCS.read_text()
    if TABLE_START not in page or TABLE_END not in page:
        raise SystemExit(f"{DOCS} has no markers for the trial's table ({TABLE_START!r} ... {TABLE_END!r})")
    before, rest = page.split(TABLE_START, 1)
    after = rest.split(TABLE_END, 1)[1]
    write_atomically(DOCS, lambda f: f.write((before + text + after).encode()), "docs/grading.md")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--memory-mb", type=int, default=768, help="the memory limit (Gradescope's default 768)")
    parser.add_argument("--cpus", type=float, default=0.5, help="the CPU quota (Gradescope's default 0.5)")
    parser.add_argument("--reuse-root", action="store_true", help="keep WORK_DIR/root if it was built before")
    parser.add_argument("--skip-setup", action="store_true", help="setup.sh ran in WORK_DIR/root already")
    parser.add_argument("--gradescope-sizes", action="store_true",
                        help="grade at each size Gradescope offers, smallest first, up to the first that grades right")
    parser.add_argument("--write-docs", action="store_true",
                        help="with --gradescope-sizes: write the table into docs/grading.md")
    args = parser.parse_args(argv)
    if args.write_docs and not args.gradescope_sizes:
        parser.error("--write-docs writes the table of --gradescope-sizes: give both")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # so that a kill still unmounts what was mounted
    if os.geteuid() != 0:
        parser.exit(2, f"{parser.prog}: error: needs root (debootstrap, chroot, mount and cgroups)\n")
    mnist = Path(os.environ.get("MNIST_ROOT", ROOT / "data")) / "MNIST" / "raw"
    root = args.work_dir.resolve() / "root"
    if not (args.reuse_root and (root / "usr" / "bin" / "python3").exists()):
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        build_root(root)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
           "LANG": "C.UTF-8", **{k: v for k, v in os.environ.items() if k.startswith("PIP_")}}
    targets = mounted(root, Path("/opt/wheels"))
    rows, results, setup_line = [], [], "setup.sh not run again"
    sizes = (GRADESCOPE_SIZES if args.gradescope_sizes
             else [(f"{args.memory_mb} MB, {args.cpus:g} CPU", args.memory_mb, args.cpus)])
    try:
        if not args.skip_setup:
            shutil.rmtree(root / "autograder", ignore_errors=True)
            with tempfile.TemporaryDirectory() as scratch:
                make(Path(scratch) / "autograder.zip")
                with zipfile.ZipFile(Path(scratch) / "autograder.zip") as bundle:
                    bundle.extractall(root / "autograder" / "source")
            shutil.copy(root / "autograder/source/run_autograder", root / "autograder/run_autograder")
            (root / "autograder/run_autograder").chmod(0o755)
            if mnist.is_dir():  # where setup.sh would download it
                shutil.copytree(mnist, root / "autograder/data/MNIST/raw")
            start = time.monotonic()
            setup = subprocess.run(["chroot", str(root), "bash", "-c", "cd /autograder/source && bash setup.sh"],
                                   env=env)
            size = subprocess.run(["du", "-sm", str(root / "autograder" / "venv")], capture_output=True,
                                  text=True).stdout.split()[0]
            setup_line = f"setup.sh {time.monotonic() - start:.0f} s, the environment {size} MB"
            print(f"setup.sh: exit code {setup.returncode}; {setup_line}", flush=True)
            if setup.returncode:
                return 1
        for size_name, memory_mb, cpus in sizes:
            rows = []
            for name, files in submissions().items():
                rows.append(grade_one(root, name, files, env, memory_mb * 2 ** 20, cpus))
                print(json.dumps({"size": size_name, **rows[-1]}), flush=True)
            results.append((size_name, rows))
            if as_it_should_be(rows):
                break
    finally:
        for target in reversed(targets):
            subprocess.run(["umount", "-l", str(target)])
    for size_name, rows in results:
        print(f"\nlimits: {size_name}")
        for row in rows:
            print(f"{row['submission']:10s} score {row['score']} of {row['max score']} in {row['seconds']} s; "
                  f"peak {row['peak PSS MB']} MB (PSS summed), {row['cgroup peak MB']} MB (cgroup); "
                  f"OOM kills {row['OOM kills']}; {row['output']}")
    text = table(results, setup_line)
    print("\n" + text)
    if args.write_docs:
        write_docs(text)
        print(f"wrote the table into {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
