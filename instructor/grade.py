"""Grade a submission of the VAE assignment, part by part.

    python -m instructor.grade SUBMISSION [--reference NOTEBOOK] [--keep DIR] [--json] [--seed SEED]
                                          [--sandbox MODE] [--carry-forward credit|withhold]

SUBMISSION is a folder or a zip holding the student's notebook and helpers.py
(or the notebook itself, with helpers.py beside it),
under any name and at any depth (instructor/submission.py says how they are found;
the report says what was taken). Exits 0 only if every check passes (2 if no
single notebook is found), and prints one line per part: pass or FAIL, with
its points and the reason, an info line per check cell without points, and
last "x of 34 points, 6 more by hand". With --json it prints one JSON object instead (a GradingResult,
instructor/result.py), which instructor/grade_batch.py and instructor/gradescope.py
read. Each part's points are those of its check cell (nbgrader's metadata).

Each result records its provenance (instructor/result.py's Provenance): the seed,
the submission's digest, the time, and the versions of the grader, Python and
torch. --seed SEED grades with that seed in place of a fresh secret one, so
that the seed of a result's JSON replays its grading: the same verdicts and
reasons. The seed is for staff: the report's lines never show it.

The grade is decided in the grader's own process, never in the student's
kernel. The graded notebook is a merge (instructor/merge.py): every student
cell, with its outputs removed, placed on the reference's cells by id,
nbgrader's metadata, content or position (instructor/placement.py), so that a
notebook saved by Colab, without cell ids, is graded as well; cells the
student added stay where they were put. Each check cell that carries points is
replaced by a probe (instructor/grading_probe.py) that runs the student's code
on inputs drawn from a seed chosen secretly for this grading and saves the
plain results; instructor/judge.py then compares them, in a process of the
grader's, with its own float64 references on the same inputs.
The check cells without points (the data, the training run, the figures, the
bounds: properties of given code) are the reference's, code and outputs, and
must pass too for the submission to pass. What a student's cell does to the
kernel (replacing the checks, printing what they print, patching torch)
cannot change a part's points: those follow from the numbers the student's
code gives for inputs it could not know in advance.

The merge runs under nbval in a scratch folder, with the student's helpers.py
(the handout's stubs if there is none) and this project's other modules,
training shortened to 2 epochs and the evaluation to 50 test images. The
visualizations (section 5) run with networks that hold the seed's weights, so
that their results are judged on those; the trained weights are put back
before section 6. Cells the reference tags learner-only (the explorer, the
latent walk, the gap study and the posterior figure: given code whose results
no check reads) are skipped.

The student's code (nbval, its kernel and whatever they start) runs in a sandbox
(instructor/sandbox.py: bubblewrap) where it can run: --sandbox auto, the default; with
--sandbox required, a machine where it cannot refuses to grade (exit 2), and --sandbox off grades
without it. A report graded without says so in a note. As root, the student's code runs as the user
--as-user, in the sandbox as DEFAULT_USER if none is given.

Ctrl-C or SIGTERM stops a grading (exit 130) with everything it started, and
removes its scratch folder; nothing is graded then.

Written answers (markdown cells tagged written-answer) cannot be checked by
a program: the report lists each, answered or not, for a person to read.

The reference is the solution notebook A3_VAE.ipynb beside instructor/.
"""
import argparse
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from instructor import submission as submissions
from instructor.flags import flag_sources, report_lines
from instructor.layout import (PROBE_MODULES, ROOT, SUPPORT_MODULES, copy_files, default_reference, handout_helpers,
                               is_check_cell, parts_of)
from instructor.markers import handed_out
from instructor.merge import merge, placement_notes, written_answers
from instructor.nbval_report import failures_by_cell
from instructor.placement import Placement
from instructor.result import CREDIT, WITHHOLD, GradingResult, PartResult, Provenance, diagnosis_id
from instructor.sandbox import MODES, SandboxError, choose, wrapper
from instructor.supervision import hand_over, kill_processes_of, run_stoppable, run_watching_the_kernel, stop_on_sigterm
from vaekit.files import plain_reason

JUDGE_TIMEOUT_S = 600  # the judge takes seconds; this is only for one that never ends
NOT_FOUND = ("missing file", "several notebooks")  # the statuses of a submission with no single notebook
GRADING_ENV = {"VAE_EPOCHS": "2", "VAE_EVAL_IMAGES": "50"}
CELL_TIMEOUT_S = 180  # a cell takes seconds when grading; an endless loop is stopped after this
SEED_BITS = 62  # a grading's seed is below 2 ** SEED_BITS
DEFAULT_USER = "nobody"  # the student's code runs as this user in the sandbox when root grades without --as-user


class GradingFolderError(OSError):
    """The scratch folder for grading cannot be written; the message says why and what to do."""


def folder_error(err, where, hint):
    """The GradingFolderError for an OSError raised while preparing the grading folder in where."""
    happened, advice = plain_reason(err)
    return GradingFolderError(f"cannot prepare the grading folder in {where}: {happened}. Nothing was "
                              f"graded and the submission is untouched; {advice}" + (f" {hint}" if hint else "") + ".")


def grade(submission_dir, reference_path, keep=None):
    """Run the merged notebook under nbval; returns (all passed, report lines)."""
    result = grade_result(submission_dir, reference_path, keep)
    return result.passed, result.report


def draw_seed():
    """A fresh secret seed for a grading's inputs."""
    return secrets.randbits(SEED_BITS)


def grade_result(submission_path, reference_path, keep=None, as_user=None, seed=None, carry_forward=CREDIT,
                 sandbox="auto"):
    """Grade one submission (a folder, a zip or a notebook; see instructor/submission.py); returns its
    GradingResult (instructor/result.py), whose status is "graded", "missing file" or "several notebooks"
    (no single notebook found), "unreadable notebook", or "crashed" (the kernel died, or nbval did not run),
    with its provenance.

    seed: the seed of the inputs, to replay a grading (default: a fresh one, draw_seed)

    as_user: run the student's code (nbval and its kernel) as this user, for a grader that runs as
             root (Gradescope's): it can then read nothing but its grading folder and what any user
             can (the Python environment, MNIST), not the grader's files nor the reference
    carry_forward: CREDIT or WITHHOLD the points of a part right given the student's own failing earlier
             parts (instructor/judge.py's carried_forward; its reason names them either way)
    sandbox: "auto" (in the sandbox where it can run), "required" or "off" (see instructor/sandbox.py)
    raises FileNotFoundError if submission_path is neither a folder nor a zip nor a notebook,
    GradingFolderError if nothing could be written, KeyError for an as_user that does not exist,
    SandboxError for sandbox "required" where none can run
    """
    seed = draw_seed() if seed is None else seed
    result = graded(submission_path, reference_path, keep, as_user, seed, carry_forward, sandbox)
    return with_provenance(result, seed, submission_path)


def with_provenance(result, seed, submission_path):
    """result, with the provenance of its grading, which ends now, on the inputs of seed."""
    result.provenance = Provenance.of_this_grading(seed, submissions.digest(submission_path))
    return result


def graded(submission_path, reference_path, keep, as_user, seed, carry_forward, sandbox):
    """grade_result's GradingResult, without its provenance."""
    sandboxed, why_not = choose(sandbox)
    if sandboxed and as_user is None and os.geteuid() == 0:
        as_user = DEFAULT_USER
    how = "bubblewrap" if sandboxed else "none"
    reference = nbformat.read(reference_path, as_version=4)
    try:
        scratch = Path(tempfile.mkdtemp(prefix="vae-grade-"))
    except OSError as err:
        raise folder_error(err, tempfile.gettempdir(), "(or set TMPDIR)") from None
    try:
        try:
            found = submissions.find(submission_path, scratch / "submission")
        except submissions.SubmissionError as err:
            return not_graded(err.status, reference, str(err))
        except OSError as err:  # the folder cannot be read, or a zip cannot be unpacked into scratch
            if isinstance(err, FileNotFoundError):
                raise
            raise folder_error(err, tempfile.gettempdir(), "(or set TMPDIR)") from None
        notes = found.notes + ([] if sandboxed else [f"note  not sandboxed: {why_not}"])
        try:
            submission = nbformat.read(found.notebook, as_version=4)
        except Exception as err:  # nbformat raises several kinds for a broken file
            why = f"{found.notebook.name} cannot be read ({type(err).__name__}: {err})"
            return not_graded("unreadable notebook", reference, why, report=notes + [f"FAIL  notebook: {why}"])
        placement = Placement(reference, submission)
        merged = merge(reference, submission, placement)
        notes += placement_notes(placement)
        if found.helpers is None:
            notes.append("note  no helpers.py in the submission: graded with the handout's, whose functions "
                         "raise NotImplementedError, so every part that uses them fails")
        flags = submission_flags(reference, merged, found.helpers)
        notes += report_lines(flags)
        run, failed, verdicts = run_merged(merged, found.helpers, scratch, keep, as_user, seed, sandboxed,
                                           carry_forward=carry_forward)
        if run.kernel_died:
            why = ("the kernel died while running the notebook (a cell killed it, or it ran out of "
                   "memory); nothing after that could be checked")
            return not_graded("crashed", reference, why, report=notes + [f"FAIL  {why}"], placement=placement,
                              flags=flags, sandbox=how)
        if failed is None:
            why = f"grading did not run: {(run.stderr or run.stdout).strip()[-500:]}"
            return not_graded("crashed", reference, why, report=notes + [f"FAIL  {why}"], placement=placement,
                              flags=flags, sandbox=how)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    report, reasons, diagnoses, points = list(notes), {}, {}, dict(parts_of(reference))
    code_cells = [cell for cell in merged.cells if cell.cell_type == "code"]
    unfinished = {"reason": "no results were saved for this part (the grading cell did not finish)",
                  "diagnosis": "not-finished", "inherits": ""}
    carried = {}
    for number, cell in enumerate(code_cells):
        part = cell.metadata.get("probe")
        if part is not None:  # judged by instructor/judge.py; a probe that did not finish saved nothing
            verdict = ({"reason": failed[number], "diagnosis": "grading-cell-failed", "inherits": ""}
                       if number in failed else verdicts.get(part, unfinished))
            why, diagnosis = verdict["reason"], verdict["diagnosis"]
            if verdict["inherits"]:
                carried[part] = verdict["inherits"]
            if why and "/" not in diagnosis:
                diagnosis = diagnosis_id(part, diagnosis)
            credited = f": right given {carried[part]}, which fails (error carried forward)" if part in carried else ""
            report.append(part_line(part, points[part], why, diagnosis) + credited)
            if why:
                reasons[part], diagnoses[part] = why, diagnosis
        elif is_check_cell(cell):  # worth no points: information for the student, and the exit code
            why = failed.get(number, "")
            report.append(f"info  notebook check {cell.id!r}: " + (f"did not pass: {why}" if why else "passed"))
    raised = [f"      (cell {cell.id!r} raised: {failed[n]})" for n, cell in enumerate(code_cells)
              if n in failed and not is_check_cell(cell) and "probe" not in cell.metadata]
    report += ["cells outside the checks that failed:"] + raised if raised else []
    return grading_result("graded", reference, report, reasons, diagnoses, placement=placement, flags=flags,
                          passed=run.returncode == 0 and not failed and not reasons, carried=carried, sandbox=how)


def part_line(part, points, why, diagnosis):
    """A part's report line, "pass  log_q (2 of 2)" or "FAIL  log_q (0 of 2): why [diagnosis]": the reason and the
    bracketed diagnosis end the line, where the tests and a person's eye find them."""
    if not why:
        return f"pass  {part} ({points} of {points})"
    return f"FAIL  {part} (0 of {points}): {why}" + (f" [{diagnosis}]" if diagnosis else "")


def submission_flags(reference, merged, helpers):
    """The flags (instructor/flags.py) of the student's cells in the merged notebook and of their helpers.py."""
    return flag_sources(student_sources(reference, merged, helpers))


def student_sources(reference, merged, helpers):
    """The student's code beside what was handed out in its place: [(where, source, given)].

    merged:  the merged notebook (instructor/merge.py), whose student cells carry the ids of the reference
             cells they were placed on; a cell the student added has an id of its own
    helpers: the student's helpers.py, or None
    where:   "cell 'ID'" or "helpers.py"; given: the handed-out source ("" for a cell the student added)
    """
    given = {cell.id: handed_out(cell.source) for cell in reference.cells if cell.cell_type == "code"}
    sources = [(f"cell {cell.id!r}", cell.source, given.get(cell.id, "")) for cell in merged.cells
               if cell.cell_type == "code" and not is_check_cell(cell) and "grader" not in cell.metadata]
    if helpers is not None:
        sources.append(("helpers.py", Path(helpers).read_text(errors="replace"), handout_helpers()))
    return sources


def run_merged(merged, helpers, scratch, keep, as_user=None, seed=0, sandboxed=False, carry_forward=CREDIT):
    """Run the merged notebook under nbval in keep (or scratch), with helpers.py (None: the handout's),
    as the user as_user if given (see grade_result), in the sandbox if sandboxed (instructor/sandbox.py),
    its probes on the inputs of seed; then judge, outside.

    returns (the Run, {code cell number: reason} of the cells that failed, or None when nbval wrote no report,
    {part: reason, "" if it passed} of the parts whose results the probes saved)
    """
    work = Path(keep) if keep else scratch / "grading"
    try:
        work.mkdir(parents=True, exist_ok=True)
        nbformat.write(merged, work / "A3_VAE.ipynb")
        if helpers is None:
            (work / "helpers.py").write_text(handout_helpers())
        else:
            shutil.copy(helpers, work / "helpers.py")
        copy_files((*SUPPORT_MODULES, *PROBE_MODULES), ROOT, work)
        (work / "grading_seed").write_text(str(seed))
    except OSError as err:
        raise folder_error(err, keep or tempfile.gettempdir(), "" if keep else "(or set TMPDIR)") from None
    if as_user is not None:
        hand_over(scratch, work, as_user)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAE_")}
    env.update(GRADING_ENV)
    env["MNIST_ROOT"] = str(Path(os.environ.get("MNIST_ROOT", ROOT / "data")).resolve())
    # The kernel's connection file (and whatever the notebook puts in the temporary folder) goes
    # into scratch, removed by the caller: a killed nbval never removes it itself.
    env["TMPDIR"] = str(scratch)
    if as_user is not None or sandboxed:  # IPython and matplotlib keep their settings below HOME
        env["HOME"] = str(scratch)
    command = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
               f"--nbval-cell-timeout={CELL_TIMEOUT_S}", "--junitxml=report.xml", "-vv", "A3_VAE.ipynb"]
    if sandboxed:  # the sandbox switches to as_user itself, and ends every process in it with nbval
        run = run_watching_the_kernel(command, cwd=work, env=env, wrapper=wrapper([work, scratch], env, as_user))
    else:
        run = run_watching_the_kernel(command, cwd=work, env=env, user=as_user)
        if as_user is not None:  # a process that left nbval's tree (a daemon) must not outlive it
            kill_processes_of(pwd.getpwnam(as_user).pw_uid)
    failed = failures_by_cell(work / "report.xml") if (work / "report.xml").is_file() else None
    return run, failed, judged(work, seed, carry_forward) if failed is not None else {}


def judged(work, seed, carry_forward=CREDIT):
    """{part: {"reason", "diagnosis", "inherits"}} from instructor/judge.py, in a process of the grader's (not the
    student's user), on the
    results the probes saved in work."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["MNIST_ROOT"] = str(Path(os.environ.get("MNIST_ROOT", ROOT / "data")).resolve())
    done = subprocess.run([sys.executable, "-m", "instructor.judge", str(work / "grading_results"),
                           str(work / "figures"), "--carry-forward", carry_forward], input=str(seed),
                          capture_output=True, text=True, env=env,
                          timeout=JUDGE_TIMEOUT_S, cwd=ROOT)
    if done.returncode != 0:
        raise JudgeError(f"instructor/judge.py failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


class JudgeError(RuntimeError):
    """The judge (the grader's own code) failed: nothing can be graded."""


def grading_result(status, reference, report, reasons, diagnoses, placement=None, flags=(), passed=False,
                   carried=None, sandbox="none"):
    """The GradingResult of a grading whose report lines are report.

    reasons:   {part: why it failed}; a part not in it passed and earns its points
    diagnoses: {part: the identifier of why it failed (instructor/result.py's diagnosis_id)}
    placement: where the submission's cells were found (instructor/placement.py), once it was read:
               the written answers are then listed for a person
    flags:     the lines that reach for the grading machinery (instructor/flags.py), for a person
    carried:   {part: the earlier failing parts whose error it carries forward (instructor/judge.py)}
    sandbox:   how the student's code ran: "bubblewrap", or "none" (also when it did not run)
    """
    carried = carried or {}
    parts = [PartResult(name=name, max_points=points, points=0 if reasons.get(name) else points,
                        reason=reasons.get(name, ""), diagnosis=diagnoses.get(name, "") if reasons.get(name) else "",
                        inherits=carried.get(name, ""))
             for name, points in parts_of(reference)]
    answers = written_answers(placement) if placement is not None else []
    return GradingResult(status=status, passed=passed, parts=parts, flags=list(flags),
                         notes=[line for line in report if line.startswith("note")],
                         report=report + [answer.report_line() for answer in answers], answers=answers,
                         sandbox=sandbox)


def not_graded(status, reference, why, report=None, placement=None, flags=(), sandbox="none"):
    """The GradingResult of a submission that could not be graded as a whole: every part earns nothing, for why,
    with the status as its diagnosis (e.g. "train/timed-out").

    report: the report's lines (default: one, FAIL and why); placement, flags and sandbox as for grading_result
    """
    names = [name for name, _ in parts_of(reference)]
    return grading_result(status, reference, report or [f"FAIL  {why}"], dict.fromkeys(names, why),
                          {name: diagnosis_id(name, status.replace(" ", "-")) for name in names},
                          placement=placement, flags=flags, sandbox=sandbox)


def grade_isolated(submission_dir, reference_path, timeout, threads=None, as_user=None, seed=None,
                   carry_forward=CREDIT, sandbox="auto"):
    """grade_result in a process of its own, killed with everything it started after timeout seconds.

    threads: CPU threads for its kernel (OMP_NUM_THREADS), so that gradings side by side do not
    fight over the cores; default: torch's own choice
    as_user: the user to run the student's code as (see grade_result)
    seed:    as for grade_result; drawn here, so that a grading stopped before it reported records it too
    carry_forward: the policy for a part that inherits an earlier part's error (see grade_result)
    sandbox: the sandbox's mode (see grade_result)

    returns grade_result's GradingResult; its status is also "timed out" or "missing file" here, and
    "crashed" when the grader itself died (e.g. the machine ran out of memory)
    raises GradingStopped once stop_gradings() has been called, SandboxError as grade_result
    """
    seed = draw_seed() if seed is None else seed
    choose(sandbox)  # refused here, not as a grader's exit code
    # Run as a module from this repository, with absolute paths: the caller's folder may be any.
    command = [sys.executable, "-m", "instructor.grade", str(Path(submission_dir).resolve()), "--json",
               "--reference", str(Path(reference_path).resolve()), "--seed", str(seed), "--sandbox", sandbox,
               *(["--as-user", as_user] if as_user else []), "--carry-forward", carry_forward]

    def not_run(status, why):
        result = not_graded(status, nbformat.read(reference_path, as_version=4), why)
        return with_provenance(result, seed, submission_dir)

    # A grader killed here cannot clean up after itself: its temporary files go into a folder
    # of ours, removed whatever happens to the grader.
    with tempfile.TemporaryDirectory(prefix="vae-grading-", ignore_cleanup_errors=True) as scratch:
        if as_user:  # the user passes through to its grading folder, but cannot list what is here
            os.chmod(scratch, 0o711)
        env = dict(os.environ, TMPDIR=scratch, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
        try:
            returncode, out, err = run_stoppable(command, timeout, env, cwd=ROOT, name=submission_dir)
        except subprocess.TimeoutExpired:
            return not_run("timed out", f"grading took longer than {timeout:g} s and was stopped (an endless loop?)")
    try:
        return GradingResult.from_json(out)
    except json.JSONDecodeError:
        if returncode == 2:  # no submission there at all
            return not_run("missing file", err.strip().splitlines()[-1] if err.strip() else "a file is missing")
        return not_run("crashed", f"the grader stopped with exit code {returncode}: {err.strip()[-300:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", type=Path, help="folder or zip with the notebook and helpers.py, or the notebook")
    parser.add_argument("--reference", type=Path, default=None,
                        help="notebook whose check cells are the reference (default: A3_VAE.ipynb)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the notebook that nbval ran (the merge), its report.xml and the probes' "
                             "results in this folder")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--as-user", default=None,
                        help="run the student's code as this user (when grading as root, as on Gradescope; "
                             f"default in the sandbox: {DEFAULT_USER})")
    parser.add_argument("--sandbox", choices=MODES, default="auto",
                        help="run the student's code in bubblewrap's sandbox: where it can run (auto, the "
                             "default), always (required: refuse where it cannot), or never (off)")
    parser.add_argument("--carry-forward", choices=(CREDIT, WITHHOLD), default=CREDIT,
                        help="a part that is right given the student's own earlier parts, which fail: credit it "
                             "(default) or withhold its points; its report line names those parts either way")
    parser.add_argument("--seed", type=seed_argument, default=None,
                        help="grade with this seed, a result's provenance.seed, to replay its grading "
                             "(default: a fresh secret one)")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    try:
        result = grade_result(args.submission, args.reference or default_reference(), args.keep, args.as_user,
                              args.seed, carry_forward=args.carry_forward, sandbox=args.sandbox)
    except (FileNotFoundError, GradingFolderError, SandboxError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM; the notebook's run and its kernel are already stopped
        parser.exit(130, f"{parser.prog}: interrupted; nothing was graded\n")
    passed, report = result.passed, result.report
    if args.json:
        print(result.to_json())
        return 0 if passed else 1
    if result.status in NOT_FOUND:
        parser.exit(2, f"{parser.prog}: error: " + "\n".join(line.split("  ", 1)[1] for line in report) + "\n")
    print("\n".join(report) + f"\n\n{result.summary()}")
    return 0 if passed else 1


def seed_argument(text):
    """--seed's value: a whole number below 2 ** SEED_BITS, as a result's provenance.seed holds."""
    if not (text.isascii() and text.isdigit() and int(text) < 2 ** SEED_BITS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: a whole number from 0 to 2**{SEED_BITS} - 1, "
                                         "as a result's provenance.seed holds")
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
