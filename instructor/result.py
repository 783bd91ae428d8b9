"""A grading's result, and its JSON.

The JSON (python -m instructor.grade --json, and grades/results/NAME.json of a batch) is read
back by instructor/grade_batch.py and instructor/gradescope.py: its keys are the fields
below, in their order, with each part, each written answer and the provenance an object of its own fields.
"""
import importlib.metadata
import json
import platform
import re
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from instructor.layout import ROOT

# The policies for a part that is right given the student's own earlier, failing, parts (error carried forward,
# instructor/judge.py): credit its points, or withhold them.
CREDIT, WITHHOLD = "credit", "withhold"
CAUSE = re.compile(r"[a-z][A-Za-z0-9_-]{0,60}")  # a cause: "missing-constant", "raised-ValueError", "inherits-log_q"


def part_id(part):
    """A part's name as identifiers hold it: without "helpers." or a section number, spaces as _
    ("scatter (5.1)" is "scatter", "elbo and loss" "elbo_and_loss")."""
    return re.sub(r" \(\d\.\d\)$", "", part.removeprefix("helpers.")).replace(" ", "_")


def diagnosis_id(part, cause):
    """The stable identifier of why part failed, e.g. "log_q/missing-constant": part_id, then the cause
    (vaekit/checks/compare.py), the same for every student whose part failed for it, whatever the numbers
    in their reasons. A cause that does not look like one (the student's kernel can save anything) reads
    "unnamed"."""
    return f"{part_id(part)}/{cause if isinstance(cause, str) and CAUSE.fullmatch(cause) else 'unnamed'}"


@dataclass(kw_only=True)
class PartResult:
    """A part that carries points (a graded check cell)."""
    name: str
    max_points: int
    points: int  # max_points if it passed, else 0
    reason: str  # why it failed; "" when it passed
    diagnosis: str = ""  # the reason's identifier (diagnosis_id); "" when it passed, and in results from before it
    # the earlier, failing, parts whose error this part carries forward (instructor/judge.py): it is right given
    # them; it passed if the policy credits it. "" when none (and in results from before)
    inherits: str = ""


@dataclass(kw_only=True)
class AnswerResult:
    """A written answer (a markdown cell tagged written-answer): no program grades it, a person does."""
    name: str
    max_points: int
    words: int  # 0: not answered
    # the answer as written (markdown, "" when not answered), for the page a person grades it on
    # (instructor/answers.py); results from before it hold none
    text: str = ""

    def report_line(self):
        state = f"answered, {self.words} words" if self.words else "not answered"
        return f"hand  {self.name}: to be read by a person ({state})"


@dataclass(kw_only=True)
class Provenance:
    """What a grading needs to be replayed and trusted: python -m instructor.grade SUBMISSION --seed SEED
    with this grader gives the same verdicts and reasons. The seed is for staff only: no report line and
    nothing a student sees on Gradescope holds it (the inputs it draws would let a student tune code to them)."""
    seed: int  # the seed of the grading's inputs (grade.py's draw_seed, or --seed)
    submission_digest: str | None  # instructor/submission.py's digest of the files graded; None: no single notebook
    graded_at: str  # when the grading ended, UTC, ISO 8601 to the second: "2026-12-04T19:30:12Z"
    grader_version: str | None  # the version of this project's package (pyproject.toml); None if not installed
    grader_commit: str | None  # `git rev-parse HEAD` of the grader's repository; None outside a git checkout
    python: str
    torch: str | None  # None if torch is not installed

    @classmethod
    def of_this_grading(cls, seed, submission_digest):
        """The provenance of a grading that ends now, with this grader, Python and torch."""
        return cls(seed=seed, submission_digest=submission_digest,
                   graded_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   grader_version=installed_version("a3-vae"), grader_commit=grader_commit(),
                   python=platform.python_version(), torch=installed_version("torch"))


def installed_version(distribution):
    """The version of an installed distribution, or None; torch's is read without importing it (seconds, and
    hundreds of MB in the grader's process)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def grader_commit():
    """The commit checked out in the grader's repository (ROOT), or None where ROOT is no git checkout of its
    own (the Gradescope autograder is a zip of files, which may be unpacked inside another repository) or git
    cannot be run."""
    try:
        done = subprocess.run(["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.splitlines()
    return lines[1] if done.returncode == 0 and len(lines) == 2 and Path(lines[0]).resolve() == ROOT else None


@dataclass(kw_only=True)
class GradingResult:
    """One submission's grading."""
    # "graded"; "missing file" or "several notebooks" (no single notebook found); "unreadable notebook";
    # "crashed" (the kernel died, nbval did not run, or the grader itself did not finish); "timed out"
    status: str
    passed: bool  # True only if every check passed
    parts: list[PartResult]  # each part with points, in notebook order
    # {"where", "line", "code", "why"} for each of the student's lines that reach for the grading machinery
    # or use what the rules forbid (instructor/flags.py), also in report ("flag  ..."); they cost no points
    flags: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the report's lines on what was taken and how ("note  ...")
    # the report's lines as printed: notes and flags, a pass or FAIL line per part with its points and an info
    # line per check without points (then the cells outside the checks that raised), a hand line per written
    # answer; summary() follows them
    report: list[str]
    answers: list[AnswerResult]  # to be read by a person
    provenance: Provenance | None = None  # None in results from before it was recorded
    sandbox: str = "none"  # how the student's code ran: "bubblewrap", or "none" (results from before had no sandbox)

    @property
    def points(self):
        """The points earned, all parts together."""
        return sum(part.points for part in self.parts)

    def summary(self):
        """The report's last line: "x of 34 points, 6 more by hand": the points earned of those the parts
        carry, and those of the written answers, which a person gives."""
        by_hand = sum(answer.max_points for answer in self.answers)
        return (f"{self.points} of {sum(part.max_points for part in self.parts)} points"
                + (f", {by_hand} more by hand" if by_hand else ""))

    def to_json(self):
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text):
        """The result that to_json wrote. A batch's results from before the grader flagged lines, took notes or
        recorded its provenance lack those keys: they read as none."""
        data = json.loads(text)
        provenance = data.get("provenance")
        return cls(**{**data, "parts": [PartResult(**part) for part in data["parts"]],
                      "answers": [AnswerResult(**answer) for answer in data["answers"]],
                      "provenance": Provenance(**provenance) if provenance else None})
