"""The notebook's settings from the environment, read and checked in one place.

    VAE_EPOCHS       epochs of training (default 100)
    VAE_CHECKPOINT   where the model is saved and looked for (default models/vae_<epochs>epochs.pt)
    VAE_RETRAIN      1: train from scratch even when a finished checkpoint exists
    VAE_EVAL_IMAGES  test digits for section 6 (default: 10000 on a GPU, 1000 on a CPU)

A bad value raises ValueError naming the variable and what it must be.
"""
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """epochs: of training; checkpoint: its file; retrain: ignore a finished checkpoint;
    eval_images: test digits for the exact log p(x); bound_images: the first of them for the bounds
    (IWAE with k = 5000 decodes 5000 codes a digit: 100 at most on a CPU); gap_images: the first of
    those for the study of the gaps (an optimisation per digit: 40 on a CPU, 200 on a GPU)."""
    epochs: int
    checkpoint: Path
    retrain: bool
    eval_images: int
    bound_images: int
    gap_images: int


def read_settings(device):
    """The settings for a run on device (a torch.device), from the environment."""
    on_gpu = device.type == "cuda"
    epochs = os.environ.get("VAE_EPOCHS", "100")
    if not epochs.isdigit() or int(epochs) < 1:
        raise ValueError(f"VAE_EPOCHS must be a positive whole number, got {epochs!r}")
    eval_images = os.environ.get("VAE_EVAL_IMAGES", "10000" if on_gpu else "1000")
    if not eval_images.isdigit() or not 1 <= int(eval_images) <= 10000:
        raise ValueError(f"VAE_EVAL_IMAGES must be a whole number from 1 to 10000, got {eval_images!r}")
    bound_images = int(eval_images) if on_gpu else min(int(eval_images), 100)
    return Settings(epochs=int(epochs),
                    checkpoint=Path(os.environ.get("VAE_CHECKPOINT", f"models/vae_{int(epochs)}epochs.pt")),
                    retrain=os.environ.get("VAE_RETRAIN") == "1",
                    eval_images=int(eval_images), bound_images=bound_images,
                    gap_images=min(bound_images, 200 if on_gpu else 40))
