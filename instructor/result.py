"""A grading's result, and its JSON.

The JSON (python -m instructor.grade --json, and grades/results/NAME.json of a batch) is read
back by instructor/grade_batch.py and instructor/gradescope.py: its keys are the fields
below, in their order, with each part and each written answer an object of its own fields.
"""
import json
import re
from dataclasses import asdict, dataclass, field

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
    # the report's lines as printed: notes and flags, a pass or FAIL line per check (then the cells outside the
    # checks that raised), a hand line per written answer
    report: list[str]
    answers: list[AnswerResult]  # to be read by a person

    @property
    def points(self):
        """The points earned, all parts together."""
        return sum(part.points for part in self.parts)

    def to_json(self):
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text):
        """The result that to_json wrote. A batch's results from before the grader flagged lines or took
        notes have neither key: they read as none."""
        data = json.loads(text)
        return cls(**{**data, "parts": [PartResult(**part) for part in data["parts"]],
                      "answers": [AnswerResult(**answer) for answer in data["answers"]]})
