"""Training checkpoints: written atomically, read back only when they fit.

A checkpoint is a plain dict, loadable with ``torch.load(weights_only=True)``:

    format        int, FORMAT_VERSION of the code that wrote it
    digest        SHA-256 (hex) of everything else, written with the file and
                  checked on load, so damage inside the file that still
                  unpickles (flipped bytes in a tensor) is refused, not used
    config        dict of the settings that shape the run (sizes, lr, epochs, seed)
    epoch         number of finished epochs
    loss_history  list of the mean training loss of every finished epoch
    encoder, decoder   state_dicts of the two networks
    optimizer     the Adam state, so a resumed run continues exactly
    rng, shuffle_rng   the global and the shuffling random states
    cuda_rng      the CUDA random state, present when trained on a GPU

The last four are left out once all epochs are done: a finished run is not
resumed, and without Adam's moment estimates the file is a third of the size.

It is written to a temporary file in the same folder and renamed over the old
one (files.write_atomically), so a crash at any moment leaves either the
previous checkpoint or the new one, never a half-written file under the real
name; a full disk or a read-only folder is reported as such.

Format 1 (before the digest) is still read, with a one-line note.
"""
import hashlib
import sys
from pathlib import Path

import torch

from vaekit.files import write_bytes_of

FORMAT_VERSION = 2
UNVERIFIED_FORMATS = (1,)  # older formats without a digest, still accepted
CONFIG_KEYS = ("data_dim", "hidden_dim", "latent_dim", "batch_size", "lr", "n_epochs", "seed")
REQUIRED_KEYS = ("format", "config", "epoch", "loss_history", "encoder", "decoder")


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message says what to do."""


def content_digest(checkpoint):
    """SHA-256 (hex) of a checkpoint's contents, all but its "digest" entry.

    Tensors contribute their dtype, shape and raw bytes; dicts their keys in a
    fixed (sorted) order; other values their type and repr, which is exact for
    ints, floats and strings. The same contents give the same digest on any
    machine, before and after a round trip through the file.
    """
    sha = hashlib.sha256()

    def feed(value):
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            sha.update(f"tensor {t.dtype} {tuple(t.shape)}\n".encode())
            sha.update(t.reshape(-1).view(torch.uint8).numpy())  # the buffer itself, not a copy
        elif isinstance(value, dict):
            sha.update(f"dict {len(value)}\n".encode())
            for key in sorted(value, key=repr):
                feed(key)
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            sha.update(f"list {len(value)}\n".encode())
            for item in value:
                feed(item)
        else:
            sha.update(f"{type(value).__name__} {value!r}\n".encode())

    feed({key: value for key, value in checkpoint.items() if key != "digest"})
    return sha.hexdigest()


def save_checkpoint(path, checkpoint):
    """Write ``checkpoint`` (a dict) to ``path`` atomically, with its digest.

    Temporary files that a killed process left beside ``path`` are removed
    once the new checkpoint is in place. raises files.WriteError (an OSError)
    saying what happened when the file system refuses (full, read-only, ...).
    """
    path = Path(path)
    stamped = {**checkpoint, "digest": content_digest(checkpoint)}
    write_bytes_of(path, lambda buffer: torch.save(stamped, buffer), "the checkpoint",
                   elsewhere=" (or point VAE_CHECKPOINT elsewhere)")
    for leftover in path.parent.glob(f"{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)


def load_checkpoint(path, config=None):
    """Read and validate the checkpoint at ``path``.

    config: if given, the checkpoint must have been written for exactly this
            configuration (a dict with the keys in CONFIG_KEYS)
    returns the checkpoint dict; raises FileNotFoundError if there is none and
    CheckpointError if it is damaged, foreign or from another configuration
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    advice = f"Delete {path} (or point VAE_CHECKPOINT elsewhere) to train from scratch."
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # arbitrary bytes make the unpickler fail in arbitrary ways (IndexError, ...)
        reason = str(err).split("\n")[0]
        raise CheckpointError(f"{path} is damaged or not a checkpoint "
                              f"({type(err).__name__}: {reason}). {advice}") from None

    missing = [k for k in REQUIRED_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is not a VAE checkpoint (missing {', '.join(missing)}). {advice}")
    if checkpoint["format"] == FORMAT_VERSION:
        if checkpoint.get("digest") != content_digest(checkpoint):
            raise CheckpointError(f"{path} is damaged: its contents do not match the SHA-256 digest "
                                  f"written with it, so its weights cannot be trusted. {advice}")
    elif checkpoint["format"] in UNVERIFIED_FORMATS:
        print(f"note: {path} has checkpoint format {checkpoint['format']}, which carries no digest, so "
              "it is loaded unverified; saving it again writes the current format.", file=sys.stderr)
    else:
        newer = isinstance(checkpoint["format"], int) and checkpoint["format"] > FORMAT_VERSION
        raise CheckpointError(
            f"{path} has checkpoint format {checkpoint['format']!r}, this code reads format "
            f"{FORMAT_VERSION}" + (" (it was written by a newer version: update the code)."
                                   if newer else f". {advice}"))
    if config is not None and checkpoint["config"] != config:
        differences = ", ".join(f"{k}: {checkpoint['config'].get(k)!r} in the file, {config.get(k)!r} now"
                                for k in sorted(set(config) | set(checkpoint["config"]))
                                if checkpoint["config"].get(k) != config.get(k))
        raise CheckpointError(f"{path} was trained with another configuration ({differences}). {advice}")
    return checkpoint


def training_state(config, loss_history, encoder, decoder, optimizer, shuffle_rng):
    """Everything needed to resume training after ``len(loss_history)`` epochs.

    Once ``len(loss_history)`` reaches ``config["n_epochs"]``, only the weights and
    the history are kept (see the module docstring).
    """
    state = {
        "format": FORMAT_VERSION,
        "config": dict(config),
        "epoch": len(loss_history),
        "loss_history": list(loss_history),
        "encoder": encoder.state_dict(),
        "decoder": decoder.state_dict(),
    }
    if len(loss_history) < config["n_epochs"]:
        state["optimizer"] = optimizer.state_dict()
        state["rng"] = torch.get_rng_state()
        state["shuffle_rng"] = shuffle_rng.get_state()
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state()
    return state


def restore_training_state(checkpoint, encoder, decoder, optimizer, shuffle_rng):
    """Load a checkpoint from :func:`load_checkpoint` into live objects.

    returns the loss history (a list with one entry per finished epoch)
    """
    try:
        encoder.load_state_dict(checkpoint["encoder"])
        decoder.load_state_dict(checkpoint["decoder"])
        if "optimizer" in checkpoint:  # absent once the run is finished
            optimizer.load_state_dict(checkpoint["optimizer"])
            torch.set_rng_state(checkpoint["rng"])
            shuffle_rng.set_state(checkpoint["shuffle_rng"])
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        raise CheckpointError(f"the checkpoint does not fit these networks: {err}") from None
    if "cuda_rng" in checkpoint and torch.cuda.is_available():
        torch.cuda.set_rng_state(checkpoint["cuda_rng"])
    return list(checkpoint["loss_history"])
