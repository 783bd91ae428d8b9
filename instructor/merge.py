"""The notebook to grade: the reference's check cells and the student's other cells, merged.

Every student cell, with its outputs removed, is placed on the reference's cells
(instructor/placement.py) so that a notebook saved without cell ids is graded as well;
cells the student added stay where they were put. Each check cell that carries points
becomes a probe (instructor/grading_probe.py) that saves the results of the student's
code; the check cells without points are the reference's, code and outputs. Cells the
reference tags learner-only are skipped.
"""
import nbformat

from instructor.layout import LEARNER_TAG, is_check_cell, is_graded, is_written_answer, points_of, question_of
from instructor.placement import Placement
from instructor.result import AnswerResult

# The visualizations run on the seed's weights from after the training run's check to after the figures' check.
SEED_WEIGHTS_AFTER, TRAINED_WEIGHTS_AFTER = "check-training", "check-figures"
NO_ANSWER = "YOUR ANSWER HERE"


def probe_cell(source, ref_id, part=None):
    """A cell of the grader's in the merge: runs code of instructor/grading_probe.py, prints nothing compared."""
    cell = nbformat.v4.new_code_cell(f"from instructor import grading_probe\n{source}", id=ref_id)
    cell.metadata = {"tags": ["nbval-ignore-output"], "grader": True, **({"probe": part} if part else {})}
    return cell


def merge(reference, submission, placement=None):
    """The notebook to grade: the reference's check cells, the student's other cells.

    Cells are laid out in the reference's order, each student cell where
    placement (instructor/placement.py) put it; a cell the student added goes after
    the reference cell it followed in the submission. A reference code cell
    that was not found is graded as empty.
    """
    placement = placement or Placement(reference, submission)
    placed = {index: ref_id for ref_id, index in placement.index.items()}
    reference_ids = {cell.id for cell in reference.cells}
    added_after, previous = {}, None
    for index, cell in enumerate(submission.cells):
        if index in placed:
            previous = placed[index]
        else:
            added_after.setdefault(previous, []).append(cell)

    used_ids = set()

    def added(cell):
        """A copy of a cell the student added, with an id of its own (Colab's cells have none)."""
        copy = nbformat.from_dict(cell)
        if not copy.get("id") or copy.id in reference_ids or copy.id in used_ids:
            copy.id = nbformat.v4.new_code_cell().id
        used_ids.add(copy.id)
        return copy

    cells = [added(cell) for cell in added_after.get(None, [])]
    for ref_cell in reference.cells:
        index = placement.index.get(ref_cell.id)
        if is_graded(ref_cell):
            part = ref_cell.metadata["part"]
            cell = probe_cell(f"grading_probe.report({part!r}, globals())", ref_cell.id, part)
        elif is_check_cell(ref_cell):
            cell = ref_cell
        elif index is not None:
            cell = nbformat.from_dict(submission.cells[index])
            cell.id = ref_cell.id
        else:
            cell = nbformat.v4.new_code_cell("", id=ref_cell.id) if ref_cell.cell_type == "code" else ref_cell
        cells.append(cell)
        cells.extend(added(cell) for cell in added_after.get(ref_cell.id, []))
        if ref_cell.id == SEED_WEIGHTS_AFTER:
            cells.append(probe_cell("grading_probe.use_weights(globals())", "grading-seed-weights"))
        elif ref_cell.id == TRAINED_WEIGHTS_AFTER:
            cells.append(probe_cell("grading_probe.restore_weights()", "grading-trained-weights"))

    merged = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in cells],
                                      metadata=reference.metadata)
    learner_only = {cell.id for cell in reference.cells if LEARNER_TAG in cell.metadata.get("tags", [])}
    for cell in merged.cells:
        if cell.cell_type == "code" and not is_check_cell(cell) and "grader" not in cell.metadata:
            cell.outputs, cell.execution_count = [], None
            # A student's tags must not skip or silence a cell; the reference's may skip what only
            # a learner needs (figures and numbers that no check reads).
            cell.metadata["tags"] = ["nbval-skip"] if cell.id in learner_only else []
    return merged


def placement_notes(placement):
    """Report lines: how the cells were placed when not all by id, and the student cells not found."""
    notes = [placement.summary()] if placement.summary() else []
    missing = [cell.metadata.get("part", cell.id) for cell in placement.unplaced()
               if not is_check_cell(cell) and (cell.cell_type == "code"
                                               or is_written_answer(cell))]
    if missing:
        notes.append(f"note  not found in the submission, graded as empty: {', '.join(missing)}")
    return notes


def written_answers(placement):
    """An AnswerResult per written question, in notebook order: these need a person, not a check."""
    answers = []
    for ref_cell in placement.reference.cells:
        if not is_written_answer(ref_cell):
            continue
        index = placement.index.get(ref_cell.id)
        text = placement.submission.cells[index].source.replace(NO_ANSWER, "").strip() if index is not None else ""
        answers.append(AnswerResult(name=question_of(ref_cell), max_points=points_of(ref_cell),
                                    words=len(text.split()), text=text))
    return answers
