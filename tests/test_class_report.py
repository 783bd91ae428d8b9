"""The class report counts what a class got wrong, from the results a batch stored; and says what is missing.

These tests build the results by hand, so that every count is known; tests/test_batch.py grades a
class with grade_batch and reads its report, and opens the page in a browser.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from instructor.class_report import write_report
from instructor.result import AnswerResult, GradingResult, PartResult

ROOT = Path(__file__).resolve().parents[1]
PARTS = (("log_q", 2), ("train", 4))


def result(status="graded", failed=None, flags=(), answered=(1, 0)):
    """A GradingResult: failed {part: (reason, diagnosis)}; the written answers answered with these word counts."""
    failed = failed or {}
    parts = [PartResult(name=name, max_points=points, points=0 if name in failed else points,
                        reason=failed.get(name, ("", ""))[0], diagnosis=failed.get(name, ("", ""))[1])
             for name, points in PARTS]
    answers = [AnswerResult(name=f"question {n}", max_points=2, words=words) for n, words in enumerate(answered)]
    return GradingResult(status=status, passed=not failed, parts=parts, flags=list(flags), report=[], answers=answers)


def store(out, results):
    (out / "results").mkdir(parents=True, exist_ok=True)
    for student, graded in results.items():
        (out / "results" / f"{student}.json").write_text(graded.to_json() if isinstance(graded, GradingResult)
                                                         else graded)


MISSING_CONSTANT = ("log_q(z, mu, log_sigma): ... off by the same +1.838 everywhere", "log_q/missing-constant")
FORBIDDEN_FLAG = {"where": "helpers.py", "line": 3, "code": "import torch.distributions", "why": "imports ...",
                  "kinds": ["uses a forbidden library"]}


def test_the_counts_follow_the_results(tmp_path):
    store(tmp_path, {
        "ann": result(),
        "ben": result(failed={"log_q": MISSING_CONSTANT}, flags=[FORBIDDEN_FLAG]),
        "cat": result(failed={"log_q": ("log_q(z, mu, log_sigma): ... off by the same +1.838 everywhere (another "
                                        "seed's numbers)", "log_q/missing-constant"),
                              "train": ("train: raised NotImplementedError", "train/raised-NotImplementedError")}),
        "dan": result(failed={"log_q": ("log_q: raised NotImplementedError", "log_q/raised-NotImplementedError")},
                      answered=(0, 0)),
        "eve": result(status="timed out", failed={name: ("took too long", f"{name}/timed-out") for name, _ in PARTS}),
    })
    report = write_report(tmp_path, ["ann", "ben", "cat", "dan", "eve", "fay"])
    saved = json.loads((tmp_path / "class_report.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["students"] == 6
    assert saved["statuses"] == {"graded": 4, "timed out": 1, "no result": 1}
    assert saved["scores"] == {"ann": 6, "ben": 4, "cat": 0, "dan": 4, "eve": 0}
    log_q, train = saved["parts"]
    # Four graded; the timed-out submission is not among the graded, so its causes are not counted.
    assert (log_q["part"], log_q["graded"], log_q["passed"]) == ("log_q", 4, 1)
    assert log_q["diagnoses"] == [
        {"id": "log_q/missing-constant", "count": 2, "example": "ben: " + MISSING_CONSTANT[0]},
        {"id": "log_q/raised-NotImplementedError", "count": 1, "example": "dan: log_q: raised NotImplementedError"}]
    assert (train["graded"], train["passed"], [d["id"] for d in train["diagnoses"]]) == (
        4, 3, ["train/raised-NotImplementedError"])
    assert saved["flags"] == [{"kind": "uses a forbidden library", "count": 1,
                               "lines": ["ben: helpers.py, line 3: import torch.distributions"]}]
    assert saved["written_answers"] == [{"question": "question 0", "given": 4, "missing": 1},
                                        {"question": "question 1", "given": 0, "missing": 5}]
    assert any(problem.startswith("fay: no result") for problem in saved["problems"])
    page = (tmp_path / "class_report.html").read_text()
    assert page.count("<img ") == 2 and "log_q/missing-constant" in page and "data:image/png;base64," in page


def test_a_damaged_result_is_named_and_the_others_still_counted(tmp_path):
    store(tmp_path, {"ann": result(), "ben": "{ not json"})
    report = write_report(tmp_path, ["ann", "ben"])
    assert report["statuses"] == {"graded": 1, "no result": 1}
    assert any(problem.startswith("ben: the result ben.json cannot be read") for problem in report["problems"])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["class_report.html", "class_report.json", "results"]


def test_an_empty_class_and_a_class_of_one(tmp_path):
    (tmp_path / "results").mkdir()
    report = write_report(tmp_path, [])
    assert report["students"] == 0 and report["parts"] == [] and report["similar"] == []
    assert "No submissions" in (tmp_path / "class_report.html").read_text()
    store(tmp_path, {"ann": result()})
    report = write_report(tmp_path, ["ann"])
    assert report["students"] == 1 and report["parts"][0]["passed"] == 1 and report["similar"] == []


def test_what_students_wrote_is_escaped_in_the_page(tmp_path):
    store(tmp_path, {"ann <b>&amp;": result(failed={"log_q": ("<script>alert(1)</script>", "log_q/unnamed")})})
    write_report(tmp_path, ["ann <b>&amp;"])
    page = (tmp_path / "class_report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>" not in page and "ann &lt;b&gt;&amp;amp;" in page


def test_the_command_rebuilds_the_report_and_refuses_a_folder_without_results(tmp_path):
    store(tmp_path / "grades", {"ann": result()})
    run = subprocess.run([sys.executable, "-m", "instructor.class_report", str(tmp_path / "grades")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "grades" / "class_report.json").read_text())["students"] == 1
    run = subprocess.run([sys.executable, "-m", "instructor.class_report", str(tmp_path)], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 2 and "holds no results/ folder" in run.stderr


@pytest.mark.parametrize("threshold", ["-0.1", "1.5"])
def test_a_threshold_outside_0_to_1_is_refused(tmp_path, threshold):
    store(tmp_path, {"ann": result()})
    run = subprocess.run([sys.executable, "-m", "instructor.class_report", str(tmp_path),
                          "--similarity-threshold", threshold], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "between 0 and 1" in run.stderr
