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
import collections

from instructor.markers import handed_out

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
        self.position = {cell.id: number for number, cell in enumerate(reference.cells)}
        self.by_key(lambda cell: cell.get("id"), "id")
        self.by_key(grade_id, "nbgrader")
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

    def by_key(self, key, how):
        """Place each reference cell on the free submission cell with the same key (none: no match)."""
        for ref_cell in self.unplaced():
            wanted = key(ref_cell)
            match = next((i for i, cell in self.free(ref_cell) if wanted and key(cell) == wanted), None)
            if match is not None:
                self.place(ref_cell, match, how)

    def placed_index(self, cells):
        """The submission index of the first of cells (reference cells) that is placed, or None."""
        return next((self.index[cell.id] for cell in cells if cell.id in self.index), None)

    def previous_index(self, ref_cell):
        """The submission index of the nearest placed reference cell before ref_cell (-1 if none)."""
        before = self.reference.cells[:self.position[ref_cell.id]]
        found = self.placed_index(reversed(before))
        return -1 if found is None else found

    def by_content(self):
        lines = {cell.id: first_line(handed_out(cell.source, cell.cell_type)) for cell in self.reference.cells}
        counts = collections.Counter(lines.values())
        for ref_cell in self.unplaced():
            line = lines[ref_cell.id]
            if not line or counts[line] > 1:
                continue  # nothing to go by, or it would not say which reference cell
            candidates = [i for i, cell in self.free(ref_cell) if first_line(cell.source) == line]
            after = [i for i in candidates if i > self.previous_index(ref_cell)]
            if candidates:
                self.place(ref_cell, (after or candidates)[0], "content")

    def by_order(self):
        for ref_cell in self.unplaced():
            before = self.previous_index(ref_cell)
            after = self.placed_index(self.reference.cells[self.position[ref_cell.id] + 1:])
            after = len(self.submission.cells) if after is None else after
            gap_reference = [cell for cell in self.unplaced() if cell.cell_type == ref_cell.cell_type
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
