"""A failing check, in Jupyter, shows the student's line and the message, not the checks' inner workings.

IPython prints every frame of a traceback; __tracebackhide__ hides all but
the last, which for a check is always one of its own (the comparison that
raised). So, when the checks are imported in IPython, its tracebacks leave
out the frames of the checks and of helpers.py's argument checks
(vaekit/arguments.py): what is left is the notebook's cell and the student's
own functions, then the message. Any other error prints as before.
"""
import sys
import types
from pathlib import Path

VAEKIT = Path(__file__).resolve().parents[1]
HIDDEN = (VAEKIT / "checks", VAEKIT / "arguments.py")


def hidden(frame):
    """Whether a frame runs code of the checks or of the argument checks."""
    path = Path(frame.f_code.co_filename)
    return any(path == place or place in path.parents for place in HIDDEN)


def without_hidden_frames(tb):
    """The traceback tb with the hidden frames left out (None if none is left)."""
    kept = []
    while tb is not None:
        if not hidden(tb.tb_frame):
            kept.append(tb)
        tb = tb.tb_next
    pruned = None
    for entry in reversed(kept):
        pruned = types.TracebackType(pruned, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return pruned


def show_without_hidden_frames(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: shows the error as IPython does, less the hidden frames."""
    shell.showtraceback((etype, value, without_hidden_frames(tb)), tb_offset=tb_offset)


def hide_check_frames():
    """In IPython, print tracebacks without the hidden frames; elsewhere, do nothing."""
    ipython = sys.modules.get("IPython")  # imported by any IPython shell, so never imported here
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        shell.set_custom_exc((Exception,), show_without_hidden_frames)
