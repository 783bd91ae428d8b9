"""Writing a file whole or not at all, with errors that explain themselves.

The data goes to a temporary file beside the target, is flushed to disk and
then renamed over the target in one step, so a crash, a full disk or a kill
at any moment leaves either the old file or the new one, never half of one.
When the write fails, the temporary file is removed and the error says in
plain words what happened, what was kept and what to do, instead of the
low-level message of whatever library was writing.
"""
import errno
import io
import os
import tempfile
from pathlib import Path

# errno -> (what happened, what to do)
REASONS = {
    errno.ENOSPC: ("the disk is full", "free some space, or write somewhere else"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, or write somewhere else"),
    errno.EROFS: ("the folder is on a read-only file system", "choose a folder that can be written to"),
    errno.EACCES: ("permission to write there is denied", "choose a folder you can write to"),
    errno.EPERM: ("permission to write there is denied", "choose a folder you can write to"),
    errno.EISDIR: ("that path is a folder, not a file", "choose a file name"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose another path"),
    errno.ENAMETOOLONG: ("the file name is too long", "choose a shorter path"),
}


def plain_reason(err):
    """(what happened, what to do) in plain words, for an OSError from the file system."""
    return REASONS.get(err.errno, (err.strerror or str(err), "check the folder"))


class WriteError(OSError):
    """A file could not be written; the message says why, what was kept and what to do."""


def write_atomically(path, write, what, elsewhere=""):
    """Write a file through ``write(f)`` (f: a binary file object), atomically.

    path:      the file to create or replace
    write:     a function that writes the whole content to the file object it is given
    what:      what the file is, for messages ("the checkpoint", "the figure")
    elsewhere: how to write it somewhere else, appended to the advice, e.g. "or set VAE_CHECKPOINT"
    raises WriteError (an OSError with the original errno) when the file system refuses
    """
    path = Path(path)
    kept = (f"The file {path} still holds its previous contents" if path.is_file()
            else f"Nothing was written to {path}")
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; these files are not secret
        os.replace(tmp_name, path)
    except BaseException as err:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
        if not isinstance(err, OSError) or err.errno is None:
            raise
        happened, advice = plain_reason(err)
        raise WriteError(err.errno, f"cannot write {what} to {path}: {happened}. {kept}; "
                                    f"{advice}{elsewhere}.") from None


def write_bytes_of(path, serialize, what, elsewhere=""):
    """Serialize into memory with ``serialize(buffer)``, then write the bytes atomically.

    Libraries that stream into the file (torch.save's zip writer, savefig) hide
    the file system's error behind their own; writing their bytes ourselves
    keeps it, so a full disk is reported as a full disk.
    """
    def write(f):
        buffer = io.BytesIO()
        serialize(buffer)
        f.write(buffer.getbuffer())

    write_atomically(path, write, what, elsewhere)


def save_figure(fig, path, **savefig_kwargs):
    """fig.savefig(path, ...) written atomically, with a plain message on failure."""
    write_bytes_of(path, lambda buffer: fig.savefig(buffer, format="png", **savefig_kwargs), "the figure")


def save_image(image, path):
    """A PIL image saved as PNG, atomically, with a plain message on failure."""
    write_bytes_of(path, lambda buffer: image.save(buffer, format="PNG"), "the image")
