"""What train() needs beside its steps: resuming, shuffling, the checkpoint after each epoch.

The notebook's train() is the loop of every PyTorch example (epochs, batches,
one step per batch, the epoch's mean loss); a TrainingRun does the rest:

    run = TrainingRun(encoder, decoder, optimizer, x_train, config, checkpoint_path, retrain)
    for epoch in run.epochs():
        for batch in run.batches():
            ...one step...
        run.end_epoch(mean_loss)
    return run.history

It checks all of x_train once (every pixel 0 or 1) before a step is taken,
resumes from checkpoint_path when it holds epochs of this configuration,
reshuffles every epoch with a generator of its own (saved in the checkpoint,
so a resumed run takes the same batches), writes the checkpoint after every
epoch (atomically: an interruption loses at most the epoch under way), and
stops with FloatingPointError naming the epoch when the loss is not finite.
"""
import math

import torch
from tqdm.auto import trange

from vaekit.arguments import check_binary
from vaekit.checkpoints import load_checkpoint, restore_training_state, save_checkpoint, training_state


class TrainingRun:
    """The epochs of one training run of encoder and decoder on x_train, as config says.

    x_train: (N, D) binary digits on the training device
    config:  dict with "n_epochs", "batch_size" and "seed" (and what else the checkpoint must match)
    checkpoint_path: where the run is saved after every epoch and resumed from
    retrain: start from scratch even if checkpoint_path holds epochs
    history: the mean loss of every finished epoch (a list of floats)
    """

    def __init__(self, encoder, decoder, optimizer, x_train, config, checkpoint_path, retrain=False,
                 show_progress=True):
        check_binary("x_train", x_train)  # all of it, once, before a step is taken
        self.encoder, self.decoder, self.optimizer = encoder, decoder, optimizer
        self.x_train, self.config, self.checkpoint_path = x_train, config, checkpoint_path
        self.show_progress = show_progress
        self.shuffle_rng = torch.Generator().manual_seed(config["seed"])
        self.history = []
        if checkpoint_path.exists() and not retrain:
            checkpoint = load_checkpoint(checkpoint_path, config)
            self.history = restore_training_state(checkpoint, encoder, decoder, optimizer, self.shuffle_rng)
            done = "all" if len(self.history) == config["n_epochs"] else "the first"
            print(f"Loaded {done} {len(self.history)} epochs from {checkpoint_path}. "
                  "To train from scratch, set VAE_RETRAIN=1 or delete the file.")

    @property
    def n_batches(self):
        """Mini-batches in an epoch (the last one may be smaller)."""
        return math.ceil(len(self.x_train) / self.config["batch_size"])

    def epochs(self):
        """The numbers (from 0) of the epochs still to run, with a progress bar."""
        n_epochs, done = self.config["n_epochs"], len(self.history)
        return trange(done, n_epochs, initial=done, total=n_epochs, desc="epochs", disable=not self.show_progress)

    def batches(self):
        """The mini-batches of one epoch, (batch_size, D) each, in an order drawn anew."""
        order = torch.randperm(len(self.x_train), generator=self.shuffle_rng).to(self.x_train.device)
        batch_size = self.config["batch_size"]
        for start in range(0, len(self.x_train), batch_size):
            yield self.x_train[order[start:start + batch_size]]

    def end_epoch(self, mean_loss):
        """Record the epoch's mean loss and save the checkpoint; stop if the loss is not finite."""
        if not math.isfinite(mean_loss):
            epoch = len(self.history)
            kept = (f"{self.checkpoint_path} still holds epoch {epoch}" if epoch
                    else "no epoch of this run was saved")
            raise FloatingPointError(f"the training loss became {mean_loss} in epoch {epoch + 1}; training "
                                     f"stopped, and {kept}")
        self.history.append(mean_loss)
        save_checkpoint(self.checkpoint_path, training_state(self.config, self.history, self.encoder,
                                                             self.decoder, self.optimizer, self.shuffle_rng))
