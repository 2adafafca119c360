"""Resumable training state: periodic atomic checkpoints and automatic resume."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, DiskSaver

from msfm.settings import require_flag

__all__ = ["ResumableCheckpoint", "latest_checkpoints"]


def latest_checkpoints(ckpt_dir: str | os.PathLike, pattern: str = "checkpoint_*.pt") -> list[Path]:
    """Checkpoint files in ``ckpt_dir``, newest first."""
    return sorted(Path(ckpt_dir).glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)


class ResumableCheckpoint:
    """Ignite handler that keeps a run resumable with the same command.

    It saves ``save_dict`` plus the engine's own state (``"trainer"``, added at ``attach``: a bundle config cannot
    reference the trainer from its own handlers) every ``save_interval`` iterations, at every epoch end, at the
    end of training and when an exception stops it (then as of the last completed iteration). Files are written
    atomically (a kill mid-write leaves the previous file intact) as ``checkpoint_<iteration>.pt``, keeping the
    newest ``n_saved`` in ``ckpt_dir``, those of earlier (resumed) processes included.

    At ``STARTED`` it restores the newest readable checkpoint in ``ckpt_dir`` (``weights_only=True``), including the
    iteration count, so a run killed mid-epoch continues from its last save. Attach it before other handlers. A
    checkpoint whose state does not fit the run (another msfm version's network, another config) stops the run
    with an error naming the file, rather than resuming part of it.

    Not MONAI's ``CheckpointSaver(save_interval, epoch_level=False, save_final=True)``: on an exception that saves
    the failed iteration's count, so a resumed run would skip the iteration that failed; and it restores nothing.

    Args:
        ckpt_dir: directory of the run's checkpoints.
        save_dict: objects to save and restore besides the engine (network, loss, optimizer, scheduler, ...).
        save_interval: iterations between saves.
        n_saved: checkpoints kept.
        resume: restore at start; False always starts afresh (the older files are pruned as new ones are saved).
        map_location: ``torch.load`` map location.
    """

    def __init__(
        self,
        ckpt_dir: str | os.PathLike,
        save_dict: Mapping[str, object],
        save_interval: int = 500,
        n_saved: int = 2,
        resume: bool = True,
        map_location: str | torch.device | None = "cpu",
    ) -> None:
        if save_interval < 1 or n_saved < 1:
            raise ValueError(f"save_interval and n_saved must be >= 1, got {save_interval} and {n_saved}.")
        self.ckpt_dir = Path(ckpt_dir)
        self.save_dict = dict(save_dict)
        self.save_interval = save_interval
        self.n_saved = n_saved
        self.resume = require_flag(resume, "resume")
        self.map_location = map_location
        self.logger = logging.getLogger(__name__)
        self.resumed_from: Path | None = None
        self._checkpoint: Checkpoint | None = None
        self._last_saved_iteration = -1
        self._completed_iteration = 0

    def attach(self, engine: Engine) -> None:
        self._checkpoint = Checkpoint(
            {**self.save_dict, "trainer": engine},
            DiskSaver(os.fspath(self.ckpt_dir), require_empty=False, atomic=True),
            filename_prefix="",
            n_saved=None,  # pruned in `save` over the whole folder, which holds earlier processes' files too
            global_step_transform=lambda e, _: e.state.iteration,
        )
        engine.add_event_handler(Events.STARTED, self.restore)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._mark_completed)
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.save_interval), self.save)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)
        engine.add_event_handler(Events.COMPLETED, self.save)
        engine.add_event_handler(Events.EXCEPTION_RAISED, self.save_and_raise)

    def save(self, engine: Engine) -> None:
        """Save the training state, once per iteration count."""
        if engine.state.iteration != self._last_saved_iteration:
            self._checkpoint(engine)
            self._last_saved_iteration = engine.state.iteration
            if idist.get_rank() == 0:  # the rank that DiskSaver writes on
                for stale in latest_checkpoints(self.ckpt_dir)[self.n_saved :]:
                    stale.unlink(missing_ok=True)

    def _mark_completed(self, engine: Engine) -> None:
        self._completed_iteration = engine.state.iteration

    def save_and_raise(self, engine: Engine, error: Exception) -> None:
        """Save the last completed iteration, then let the exception stop the run."""
        self.logger.error(f"training stopped by {type(error).__name__} in iteration {engine.state.iteration}")
        engine.state.iteration = self._completed_iteration  # the failed iteration is redone on resume
        self.save(engine)
        raise error

    def restore(self, engine: Engine) -> None:
        """Load the newest readable checkpoint, if any."""
        # nothing is saved before an iteration completes: a start that fails would write the newest checkpoint and
        # hide the one to resume from
        self._last_saved_iteration = self._completed_iteration = engine.state.iteration
        if not self.resume:
            return
        for path in latest_checkpoints(self.ckpt_dir):
            try:
                checkpoint = torch.load(path, map_location=self.map_location, weights_only=True)
            except Exception as error:  # an unreadable file must not block resuming from an older one
                self.logger.warning(f"skipping unreadable checkpoint {path}: {type(error).__name__}: {error}")
                continue
            max_epochs = engine.state.max_epochs
            try:
                Checkpoint.load_objects(to_load={**self.save_dict, "trainer": engine}, checkpoint=checkpoint)
            except (KeyError, RuntimeError, ValueError) as error:  # written by another version or config
                raise RuntimeError(
                    f"cannot resume from {path}: its state does not fit this run ({error}). Finish that run with the "
                    "msfm version and config that started it, or start afresh in a new bundle_root."
                ) from error
            if max_epochs is not None and engine.state.epoch > max_epochs:
                raise ValueError(
                    f"{path} is at epoch {engine.state.epoch}, beyond max_epochs={max_epochs}: raise max_epochs "
                    "or use a new output directory."
                )
            engine.state.max_epochs = max_epochs
            self.resumed_from = path
            self._last_saved_iteration = self._completed_iteration = engine.state.iteration
            self.logger.info(f"resumed from {path} at epoch {engine.state.epoch}, iteration {engine.state.iteration}")
            return
        self.logger.info(f"no checkpoint in {self.ckpt_dir}: starting from scratch")
