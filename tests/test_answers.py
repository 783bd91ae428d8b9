"""The written answers' pages and CSVs, and importing the points a person gives: stored results, no grading."""
import csv
import json
import subprocess
import sys

import nbformat
import pytest

from instructor import answers, lms
from instructor.answers import AnswersError
from instructor.class_report import BATCH_FILE
from instructor.grade_batch import CLASS_FILE, write_grades
from instructor.layout import default_reference, parts_of
from instructor.result import AnswerResult, GradingResult, PartResult

REFERENCE = nbformat.read(default_reference(), as_version=4)
QUESTIONS = ["question 1: why logits", "question 2: the scatter plot", "question 3: the lattice"]
ANSWER = r"""Once $y \gtrsim 17$, $\sigma(y) < 1$ rounds to 1 and <script>alert("x")</script> the log is $-\infty$:

$$\log(1 - \sigma(y)) = \log 0$$

![plot](http://example.org/track.png) *so* the gradient is `nan`."""


def result(points_lost=0, status="graded", text=ANSWER):
    parts = [PartResult(name=name, max_points=points, points=points, reason="") for name, points in parts_of(REFERENCE)]
    parts[0].points -= points_lost
    return GradingResult(status=status, passed=not points_lost, parts=parts, report=[],
                         answers=[AnswerResult(name=q, max_points=2, words=len(text.split()), text=text)
                                  for q in QUESTIONS])


@pytest.fixture
def grades(tmp_path):
    """A grades folder as grade_batch leaves it: ann (34 points), ben (32, nothing answered), cy (crashed)."""
    out = tmp_path / "grades"
    for student, graded in (("ann", result()), ("ben", result(2, text="")), ("cy", result(34, "crashed"))):
        (out / "results").mkdir(parents=True, exist_ok=True)
        (out / "results" / f"{student}.json").write_text(graded.to_json())
    (out / BATCH_FILE).write_text(json.dumps({"submissions": str(tmp_path), "reference": str(default_reference()),
                                              "assignment": "A3 VAE"}))
    intake = lms.Intake(folder=tmp_path, paths={}, people={s: lms.Person(id=f"id-{s}") for s in ("ann", "ben", "cy")},
                        missing=[lms.Person(id="id-dan", name="Dan")])
    lms.write_class(out / CLASS_FILE, intake)
    assert write_grades(out, default_reference(), intake) == []
    return out


def read(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def fill(grades, question, points):
    """Give the points {student: text} in the question's CSV, as a person does in a spreadsheet."""
    path = grades / "answers" / f"{answers.slug(question)}.csv"
    rows = read(path)
    for row in rows[1:]:
        row[3] = points.get(row[0], row[3])
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_each_question_gets_a_self_contained_page_with_the_answers_and_their_tex(grades):
    page = (grades / "answers" / "question-1-why-logits.html").read_text()
    assert "<script" not in page and "&lt;script&gt;" in page, "a student's HTML is shown, never run"
    assert r'<span class="math">\(y \gtrsim 17\)</span>' in page
    assert r'<span class="math">\(\sigma(y) &lt; 1\)</span>' in page
    assert r"\log(1 - \sigma(y)) = \log 0" in page and "<em>so</em>" in page and "<code>nan</code>" in page
    assert "http://example.org/track.png" in page and "<img" not in page and "src=" not in page
    assert "Why does <code>bernoulli_log_density</code> take logits" in page, "the question as the handout asks it"
    assert "not answered" in page and "no answer recorded: crashed" not in page  # cy's result holds the answers
    assert read(grades / "answers" / "question-1-why-logits.csv") == [
        ["student", "id", "words", "points"], ["ann", "id-ann", str(len(ANSWER.split())), ""],
        ["ben", "id-ben", "0", ""], ["cy", "id-cy", str(len(ANSWER.split())), ""]]


def test_imported_points_reach_the_gradebook_and_the_exports_out_of_40(grades):
    fill(grades, QUESTIONS[0], {"ann": "2", "ben": "0"})
    fill(grades, QUESTIONS[2], {"ann": "1.5"})
    done = subprocess.run([sys.executable, "-m", "instructor.answers", "import", str(grades)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((grades / answers.HAND_FILE).read_text()) == {
        QUESTIONS[0]: {"ann": 2.0, "ben": 0.0}, QUESTIONS[1]: {}, QUESTIONS[2]: {"ann": 1.5}}
    with open(grades / "gradebook.csv", newline="") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    assert [rows["id-ann"][f"{q} (2)"] for q in QUESTIONS] == ["2", "", "1.5"]
    assert (rows["id-ann"]["total (34)"], rows["id-ann"]["total (40)"]) == ("34", "37.5")
    assert (rows["id-ben"]["total (34)"], rows["id-ben"]["total (40)"]) == ("32", "32")
    assert (rows["id-dan"]["status"], rows["id-dan"]["name"]) == ("no submission", "Dan")
    canvas = {row[1]: row[5] for row in read(grades / "canvas_import.csv")[2:]}
    assert canvas == {"id-ann": "37.5", "id-ben": "32", "id-cy": "", "id-dan": ""}, "a crash is for a person to decide"
    # A second batch writes the CSVs again with the points in them.
    intake = lms.read_class(grades / CLASS_FILE)
    write_grades(grades, default_reference(), intake)
    assert [row[3] for row in read(grades / "answers" / "question-3-the-lattice.csv")[1:]] == ["1.5", "", ""]


@pytest.mark.parametrize("points, error", [
    ({"ann": "2.5"}, r"question-1-why-logits.csv, row 2 \(ann\): points '2.5'; expected a number from 0 to 2"),
    ({"ben": "two"}, r"row 3 \(ben\): points 'two'; expected a number"),
    ({"ben": "nan"}, r"row 3 \(ben\): points 'nan'"),
    ({"ann": "-1"}, r"row 2 \(ann\): points '-1'"),
])
def test_bad_points_name_their_row_and_nothing_is_written(grades, points, error):
    fill(grades, QUESTIONS[0], points)
    before = (grades / "gradebook.csv").read_text()
    with pytest.raises(AnswersError, match=error):
        answers.import_answers(grades)
    assert not (grades / answers.HAND_FILE).exists() and (grades / "gradebook.csv").read_text() == before


def test_unknown_students_and_files_are_refused_each_by_name(grades):
    path = grades / "answers" / "question-2-the-scatter-plot.csv"
    path.write_text(path.read_text() + "zed,id-zed,10,2\nann,id-ann,3,1\n")
    (grades / "answers" / "question-2-the-scatter-plot (1).csv").write_text("student,points\n")
    with pytest.raises(AnswersError) as raised:
        answers.import_answers(grades)
    message = str(raised.value)
    assert "row 5: no student 'zed' in this batch" in message and "row 6: ann a second time" in message
    assert "question-2-the-scatter-plot (1).csv: no question is named so" in message
    assert not (grades / answers.HAND_FILE).exists()
