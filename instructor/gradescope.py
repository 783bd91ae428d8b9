"""A Gradescope autograder for the assignment: build it, and the code it runs.

    python -m instructor.gradescope make OUT.zip     # the autograder to upload to Gradescope
    python -m instructor.gradescope run [--root /autograder] [--timeout SECONDS]

`make` writes a zip in Gradescope's format: setup.sh and an executable
run_autograder at its root, and this project's grading files (the solution
notebook as the reference, the modules, requirements.txt). Gradescope runs
setup.sh once when it builds the image (a virtual environment with the
requirements, MNIST downloaded into ROOT/data) and run_autograder for
each submission, in a container of its own.

On Gradescope the autograder runs as root; setup.sh makes the user vae-student and
run_autograder has instructor/grade.py run the student's code (nbval and its kernel) as that user,
with ROOT/source, ROOT/submission and ROOT/results private to root and MNIST in ROOT/data.
instructor/grade.py's sandbox is tried as well (--sandbox auto); Gradescope's container usually
forbids it, and the output then says "not sandboxed".

`run` is what run_autograder calls: it grades the files in ROOT/submission
(the notebook and helpers.py under any name, in a folder or a zip: see
instructor/submission.py) with instructor/grade.py in a process with a time limit, and writes ROOT/results/results.json: one test per
part (name, score, max_score, output with the reason), the total score and the
execution time, and the lines flagged for a person (instructor/flags.py) as a hidden test
without points. A submission that is missing a file, crashes or hangs still
gets a results.json that says so. The written answers are graded by hand on
Gradescope (add them there as manually graded questions); the output says so.
The grading's provenance (instructor/result.py), its seed included, goes to run_autograder's
standard output, which Gradescope shows to the instructors only, never into results.json:
the seed replays the grading (python -m instructor.grade SUBMISSION --seed SEED) and stays
secret from students.
"""
import argparse
import json
import os
import pwd
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import nbformat

from instructor.flags import describe
from instructor.grade import grade_isolated, not_graded
from instructor.layout import GRADER_FILES, ROOT, SUPPORT_MODULES
from vaekit.files import write_atomically

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, from /autograder/source, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -r requirements.txt
# MNIST beside the source, where the student's code (run as vae-student) can read it.
MNIST_ROOT=/autograder/data /autograder/venv/bin/python -c \\
    "from vaekit.mnist import load_mnist; load_mnist(train=True); load_mnist(train=False)"
chmod -R a+rX /autograder/data
# The user the student's code runs as: it cannot read /autograder/source nor the results.
id vae-student >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin vae-student
"""
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission. AUTOGRADER_ROOT, AUTOGRADER_PYTHON, AUTOGRADER_TIMEOUT
# (seconds), AUTOGRADER_USER (empty: the student's code runs as the grader) and MNIST_ROOT may be
# set, to try it outside Gradescope.
root=${AUTOGRADER_ROOT:-/autograder}
user=${AUTOGRADER_USER-vae-student}
export MNIST_ROOT=${MNIST_ROOT:-$root/data}
cd "$root/source"
exec "${AUTOGRADER_PYTHON:-/autograder/venv/bin/python}" -m instructor.gradescope run --root "$root" \\
    ${AUTOGRADER_TIMEOUT:+--timeout "$AUTOGRADER_TIMEOUT"} ${user:+--as-user "$user"}
"""
SOURCE_FILES = ("A3_VAE.ipynb", "helpers.py", "requirements.txt", *SUPPORT_MODULES, *GRADER_FILES,
                "instructor/gradescope.py")
# Gradescope stops a run after 10 minutes by default and then shows the student nothing: the
# grading is stopped before, so that results.json says what happened.
GRADING_TIMEOUT_S = 540
EXECUTABLE = 0o100755 << 16  # a regular file with rwxr-xr-x, as zip stores it


def make(out_zip):
    """Write the autograder zip (atomically)."""
    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name)
                info.external_attr = EXECUTABLE
                bundle.writestr(info, text)
            for name in SOURCE_FILES:
                bundle.write(ROOT / name, name)
    write_atomically(out_zip, write, "the autograder")


def results_json(result, seconds):
    """Gradescope's results.json for a GradingResult."""
    tests = [{"name": part.name, "score": part.points, "max_score": part.max_points,
              "output": part.reason or "passed", "visibility": "visible"} for part in result.parts]
    notes = [line[len("note  "):] for line in result.notes]
    failure = next((line[len("FAIL  "):] for line in result.report if line.startswith("FAIL")), "")
    summary = "Graded." if result.status == "graded" else f"Not graded as a whole ({result.status}): {failure}"
    if result.answers:
        summary += f" The {len(result.answers)} written answers are graded by hand."
    output = "\n".join([summary, *notes])
    if result.flags:  # for the instructor only: hidden from the student
        tests.append({"name": "flags for a person (no points)", "score": 0, "max_score": 0, "visibility": "hidden",
                      "output": "\n".join(describe(flag) for flag in result.flags)})
    return {"score": result.points, "execution_time": round(seconds, 1), "output": output, "tests": tests,
            "stdout_visibility": "hidden"}  # the seed is there (see run)


def run(root, timeout, as_user=None):
    """Grade ROOT/submission and write ROOT/results/results.json.

    as_user: the user the student's code runs as (setup.sh makes vae-student); the autograder's
             folders are then made private to root (the grader)
    """
    root = Path(root)
    start = time.monotonic()
    if as_user is not None:
        try:
            pwd.getpwnam(as_user)
        except KeyError:
            result = not_graded("crashed", nbformat.read(root / "source" / "A3_VAE.ipynb", as_version=4),
                                f"the user {as_user} does not exist; setup.sh makes it")
            return write_results(root, results_json(result, time.monotonic() - start))
        for folder in ("source", "submission", "results"):
            (root / folder).chmod(0o700)
    with tempfile.TemporaryDirectory() as scratch:  # grade a copy: a submission cannot touch the source
        copy = Path(scratch) / "submission"
        shutil.copytree(root / "submission", copy)
        result = grade_isolated(copy, root / "source" / "A3_VAE.ipynb", timeout, as_user=as_user)
    print(f"provenance, for staff: {json.dumps(asdict(result.provenance))}")
    return write_results(root, results_json(result, time.monotonic() - start))


def write_results(root, results):
    write_atomically(Path(root) / "results" / "results.json",
                     lambda f: f.write(json.dumps(results, indent=1).encode()), "the results")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make_command = commands.add_parser("make", help="write the autograder zip")
    make_command.add_argument("out_zip", type=Path)
    run_command = commands.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    run_command.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    run_command.add_argument("--timeout", type=float, default=GRADING_TIMEOUT_S,
                             help=f"seconds for the grading (default {GRADING_TIMEOUT_S})")
    run_command.add_argument("--as-user", default=None, help="run the student's code as this user")
    args = parser.parse_args(argv)
    if args.command == "make":
        make(args.out_zip)
        print(f"autograder written to {args.out_zip}: upload it on Gradescope's Configure Autograder page")
    else:
        results = run(args.root, args.timeout, args.as_user)
        print(f"score {results['score']}; {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
