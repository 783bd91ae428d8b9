"""nbgrader's markers, and the code as handed out once the marked blocks are gone.

Every block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a
stub indented like the markers: in code

    # YOUR CODE HERE
    raise NotImplementedError()

and in markdown (the written answers) ``YOUR ANSWER HERE``. A block between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (the check on hidden
inputs that nbgrader's autograde runs) is removed whole.
"""
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = ("YOUR ANSWER HERE",)


class MarkerError(ValueError):
    """Markers that do not pair up."""


def strip_solutions(source, where, stub=STUB):
    """Replace each marked solution block in ``source`` with ``stub`` (lines); drop each hidden-test block.

    where: a name for error messages, e.g. "helpers.py" or "cell 'elbo'"
    """
    blocks = {BEGIN: (END, stub), BEGIN_HIDDEN: (END_HIDDEN, ())}
    ends = {end: begin for begin, (end, _) in blocks.items()}
    lines, opened, opened_at = [], None, None
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker in blocks:
            if opened:
                raise MarkerError(f"{where}, line {number}: {marker} inside the block "
                                  f"opened on line {opened_at} (markers cannot nest)")
            opened, opened_at = marker, number
            indent = line[:len(line) - len(line.lstrip())]
            lines.extend(indent + line for line in blocks[marker][1])
        elif marker in ends:
            if opened != ends[marker]:
                raise MarkerError(f"{where}, line {number}: {marker} without a {ends[marker]} before it")
            opened = None
        elif not opened:
            lines.append(line)
    if opened:
        raise MarkerError(f"{where}, line {opened_at}: {opened} is never closed")
    return "\n".join(lines)


def handed_out(source, cell_type="code", where="a cell"):
    """A cell's source as the student edition has it (where: a name for error messages)."""
    return strip_solutions(source, where, ANSWER_STUB if cell_type == "markdown" else STUB)
