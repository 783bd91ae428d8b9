"""nbgrader's solution markers, and the code as handed out once the marked blocks are stubs.

Every block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a
stub indented like the markers: in code

    # YOUR CODE HERE
    raise NotImplementedError()

and in markdown (the written answers) ``YOUR ANSWER HERE``.
"""
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = ("YOUR ANSWER HERE",)


class MarkerError(ValueError):
    """Solution markers that do not pair up."""


def strip_solutions(source, where, stub=STUB):
    """Replace each marked solution block in ``source`` with ``stub`` (lines).

    where: a name for error messages, e.g. "helpers.py" or "cell 'elbo'"
    """
    lines, inside, opened_at = [], False, None
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside the block "
                                  f"opened on line {opened_at} (markers cannot nest)")
            inside, opened_at = True, number
            indent = line[:len(line) - len(line.lstrip())]
            lines.extend(indent + line for line in stub)
        elif marker == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without a {BEGIN} before it")
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise MarkerError(f"{where}, line {opened_at}: {BEGIN} is never closed")
    return "\n".join(lines)


def handed_out(source, cell_type="code", where="a cell"):
    """A cell's source as the student edition has it (where: a name for error messages)."""
    return strip_solutions(source, where, ANSWER_STUB if cell_type == "markdown" else STUB)
