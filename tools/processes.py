"""The processes of this machine as Linux's /proc shows them: who is whose child, and in what state."""
from pathlib import Path


def process_table():
    """{pid: (parent pid, state, command line)} of every process, read from /proc (empty where there is none)."""
    table = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            table[int(entry.name)] = (int(parent), state, (entry / "cmdline").read_bytes())
        except (OSError, ValueError):
            continue
    return table


def descendants(pid, table=None):
    """[pid, then every process below it], from table (default: process_table() now)."""
    table = process_table() if table is None else table
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, (parent, _, _) in table.items() if parent in frontier]
        tree += frontier
    return tree
