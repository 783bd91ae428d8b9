"""A grading's result, and its JSON.

The JSON (python -m instructor.grade --json, and grades/results/NAME.json of a batch) is read
back by instructor/grade_batch.py and instructor/gradescope.py: its keys are the fields
below, in their order, with each part and each written answer an object of its own fields.
"""
import json
from dataclasses import asdict, dataclass, field


@dataclass(kw_only=True)
class PartResult:
    """A part that carries points (a graded check cell)."""
    name: str
    max_points: int
    points: int  # max_points if it passed, else 0
    reason: str  # why it failed; "" when it passed


@dataclass(kw_only=True)
class AnswerResult:
    """A written answer (a markdown cell tagged written-answer): no program grades it, a person does."""
    name: str
    max_points: int
    words: int  # 0: not answered

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
    sandbox: str = "none"  # how the student's code ran: "bubblewrap", or "none" (results from before had no sandbox)

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
