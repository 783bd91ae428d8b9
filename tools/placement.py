"""Which cell of the reference notebook each cell of a submission is, however it was saved.

Jupyter (nbformat 4.5 and later) gives every cell an id, and a submission
saved there keeps the reference's ids. Google Colab and older front ends save
nbformat 4.0 to 4.4, whose cells have no id; a cell pasted in from elsewhere
has a new one. So cells are placed in four passes, each over what the earlier
ones left:

1. by id;
2. by nbgrader's ``grade_id`` in the cell's metadata, which Colab keeps;
3. by content: the cell's first line as handed out (the stub's ``def`` line or
   its ``# TODO`` header, a check's call, a heading), where that line belongs
   to one reference cell only; of several submitted cells that begin with it
   (a duplicated cell) the first one after the cell placed before it is taken;
4. by order: a reference cell that is the only one of its type left between
   two placed neighbours is the only cell of that type left between them in the
   submission (a written answer, which begins with the student's own words).

A reference cell that none of these finds is reported by the caller.
"""
from tools.markers import handed_out

PASSES = ("id", "nbgrader", "content", "order")


def first_line(source):
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


class Placement:
    """The submission's cells placed on the reference's.

    index: {reference cell id: index of its cell in submission.cells}
    how:   {reference cell id: the pass that placed it (one of PASSES)}
    """

    def __init__(self, reference, submission):
        self.reference, self.submission = reference, submission
        self.index, self.how = {}, {}
        self.taken = set()  # indices of submission cells already placed
        self.by_id()
        self.by_grade_id()
        self.by_content()
        self.by_order()

    def place(self, ref_cell, index, how):
        self.index[ref_cell.id], self.how[ref_cell.id] = index, how
        self.taken.add(index)

    def free(self, ref_cell):
        """(position, cell) of the submission's cells not placed yet, of ref_cell's type."""
        return [(i, cell) for i, cell in enumerate(self.submission.cells)
                if i not in self.taken and cell.cell_type == ref_cell.cell_type]

    def unplaced(self):
        return [cell for cell in self.reference.cells if cell.id not in self.index]

    def by_id(self):
        for ref_cell in self.unplaced():
            match = next((i for i, cell in self.free(ref_cell) if cell.get("id") == ref_cell.id), None)
            if match is not None:
                self.place(ref_cell, match, "id")

    def by_grade_id(self):
        for ref_cell in self.unplaced():
            wanted = grade_id(ref_cell)
            match = next((i for i, cell in self.free(ref_cell) if wanted and grade_id(cell) == wanted), None)
            if match is not None:
                self.place(ref_cell, match, "nbgrader")

    def previous_index(self, ref_cell):
        """The submission index of the nearest placed reference cell before ref_cell (-1 if none)."""
        position = self.reference.cells.index(ref_cell)
        return next((self.index[cell.id] for cell in reversed(self.reference.cells[:position])
                     if cell.id in self.index), -1)

    def by_content(self):
        lines = [first_line(handed_out(cell.source, cell.cell_type)) for cell in self.reference.cells]
        for ref_cell in self.unplaced():
            line = first_line(handed_out(ref_cell.source, ref_cell.cell_type))
            if not line or lines.count(line) > 1:
                continue  # nothing to go by, or it would not say which reference cell
            candidates = [i for i, cell in self.free(ref_cell) if first_line(cell.source) == line]
            after = [i for i in candidates if i > self.previous_index(ref_cell)]
            if candidates:
                self.place(ref_cell, (after or candidates)[0], "content")

    def by_order(self):
        cells = self.reference.cells
        for ref_cell in self.unplaced():
            position = cells.index(ref_cell)
            before = self.previous_index(ref_cell)
            after = next((self.index[cell.id] for cell in cells[position + 1:] if cell.id in self.index),
                         len(self.submission.cells))
            same_type = lambda cell: cell.cell_type == ref_cell.cell_type  # noqa: E731
            gap_reference = [cell for cell in cells if same_type(cell) and cell.id not in self.index
                             and self.previous_index(cell) == before]
            gap_submission = [i for i, cell in self.free(ref_cell) if before < i < after]
            if len(gap_reference) == 1 and len(gap_submission) == 1:
                self.place(ref_cell, gap_submission[0], "order")

    def summary(self):
        """A report line saying how the cells were placed, or None when every one was placed by id."""
        counts = {how: sum(1 for h in self.how.values() if h == how) for how in PASSES}
        if counts["id"] == len(self.reference.cells):
            return None
        ids = sum(1 for cell in self.submission.cells if cell.get("id"))
        why = ("the notebook has no cell ids (saved by Google Colab or an older Jupyter)" if not ids else
               "some cell ids are not the handout's")
        placed = ", ".join(f"{n} by {'position' if how == 'order' else how}" for how, n in counts.items() if n)
        return f"note  cells placed by what they hold, as {why}: {placed}"
