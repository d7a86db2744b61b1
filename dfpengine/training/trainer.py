"""The training loop. No printing: an observer receives progress, the CLI decides what to show.

Positions are (epoch, batch): batches of an epoch come from the loader as a
pure function of (seed, epoch, batch), so a checkpoint taken at any step
boundary, with model, optimizer, schedule and engine RNG state, resumes to
exactly the weights an uninterrupted run reaches.
"""
import time
from pathlib import Path

import numpy as np

import dfpengine
from dfpengine import checkpoint, precision
from dfpengine.nn import functional as F

from . import build, runlog
from .evaluate import evaluate
from .stop import StopOnSignal


class TrainingInterrupted(RuntimeError):
    """A signal stopped training at a step boundary, after a checkpoint was written."""

    def __init__(self, signum, step, checkpoint_dir):
        where = f"; checkpoint in {checkpoint_dir}, continue with --resume" if checkpoint_dir else ""
        super().__init__(f"interrupted by signal {signum} at step {step}{where}")
        self.signum, self.step = signum, step


class Observer:
    """Progress hooks; the defaults do nothing."""

    def run_start(self, total_images, done_images):
        """Images the whole run trains on (all epochs, or up to max_steps) and those already
        trained (non-zero when resuming): what a run-wide ETA needs."""

    def epoch_start(self, epoch, epochs, total_images, done_images):
        pass

    def batch_end(self, images, loss):
        pass

    def epoch_end(self, record):
        pass


class Trainer:
    def __init__(self, cfg, observer=None):
        self.cfg, self.observer = cfg, observer or Observer()
        if cfg.threads:
            dfpengine.set_num_threads(cfg.threads)
        self.splits = build.load_data(cfg)
        self.train_loader, self.test_loader = build.loaders(cfg, self.splits)
        self.model = build.model(cfg, self.splits)
        self.optimizer = build.optimizer(cfg, self.model)
        self.scheduler = build.scheduler(cfg, self.optimizer)
        self.policy = precision.preset(cfg.precision)
        self.scaler = self.policy.loss_scaler()     # fp8: dynamic loss scaling; else None
        self.epoch, self.batch, self.step = 0, 0, 0
        self.epoch_stats = {"loss_sum": 0.0, "correct": 0, "seen": 0}
        self.totals = {"images": 0, "seconds": 0.0}
        self.last_test = None
        self.run_dir = Path(cfg.out) if cfg.out else None

    @property
    def checkpoint_dir(self):
        return self.run_dir / runlog.CHECKPOINT if self.run_dir else None

    @property
    def total_steps(self):
        steps = self.cfg.epochs * len(self.train_loader)
        return min(steps, self.cfg.max_steps) if self.cfg.max_steps else steps

    def images_at(self, step):
        """Training images seen after `step` optimizer steps (the last batch of an epoch may be short)."""
        epoch, batch = divmod(step, len(self.train_loader))
        n = len(self.train_loader.dataset)
        return epoch * n + min(batch * self.train_loader.batch_size, n)

    def run(self):
        """Train to cfg.epochs (or cfg.max_steps) from the current position; returns the summary."""
        start = time.perf_counter()
        if self.run_dir:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.cfg.save(self.run_dir / runlog.CONFIG)
            runlog.keep_metrics_before(self.run_dir, self.epoch + 1)   # a killed run's later lines
        self.observer.run_start(self.images_at(self.total_steps), self.images_at(self.step))
        with self.policy, StopOnSignal() as stop:
            while self.epoch < self.cfg.epochs and not self._step_limit_reached():
                completed = self._train_epoch(stop)
                self._end_epoch(completed)
                if stop.requested is not None:     # arrived during evaluation; _end_epoch saved
                    raise TrainingInterrupted(stop.requested, self.step, self.checkpoint_dir)
        if self.last_test is None:
            self.last_test = evaluate(self.model, self.test_loader)
        summary = self.summary(time.perf_counter() - start)
        if self.run_dir:
            runlog.write_summary(self.run_dir, summary)
        return summary

    def _step_limit_reached(self):
        return self.cfg.max_steps is not None and self.step >= self.cfg.max_steps

    def _train_epoch(self, stop):
        """Train from the current batch to the end of the epoch; False if the step limit cut it short."""
        self.model.train()
        loader = self.train_loader
        self.observer.epoch_start(self.epoch, self.cfg.epochs, len(loader.dataset),
                                  min(self.batch * loader.batch_size, len(loader.dataset)))
        batches = loader.epoch(self.epoch, self.batch)
        try:
            for x, y in batches:
                self._train_step(x, y)
                if stop.requested is not None:
                    self.save_checkpoint()
                    raise TrainingInterrupted(stop.requested, self.step, self.checkpoint_dir)
                if self._step_limit_reached() and self.batch < len(loader):
                    return False
        finally:
            batches.close()
        return True

    def _train_step(self, x, y):
        start = time.perf_counter()
        self.policy.set_progress(epoch=self.epoch, total_epochs=self.cfg.epochs,
                                 step=self.step, total_steps=self.total_steps)
        logits = self.model(dfpengine.from_numpy(x))
        loss = F.cross_entropy(logits, dfpengine.from_numpy(y))
        self.optimizer.zero_grad()
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        loss_value = loss.item()
        stats = self.epoch_stats
        stats["loss_sum"] += loss_value * len(y)
        stats["correct"] += int(np.count_nonzero(logits.numpy().argmax(axis=1) == y))
        stats["seen"] += len(y)
        self.totals["images"] += len(y)
        self.totals["seconds"] += time.perf_counter() - start
        self.batch += 1
        self.step += 1
        self.observer.batch_end(len(y), loss_value)

    def _end_epoch(self, completed):
        """Evaluate and log the epoch; a completed one also advances the schedule and position."""
        self.last_test = evaluate(self.model, self.test_loader)
        stats = self.epoch_stats
        record = {
            "epoch": self.epoch + 1, "step": self.step, "partial": not completed,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": stats["loss_sum"] / max(stats["seen"], 1),
            "train_accuracy": stats["correct"] / max(stats["seen"], 1),
            "test_loss": self.last_test["loss"], "test_accuracy": self.last_test["accuracy"],
            "images_per_s": self.totals["images"] / max(self.totals["seconds"], 1e-9),
            "train_seconds": self.totals["seconds"],
        }
        if completed:
            if self.scheduler is not None:
                self.scheduler.step()
            self.epoch, self.batch = self.epoch + 1, 0
            self.epoch_stats = {"loss_sum": 0.0, "correct": 0, "seen": 0}
        if self.run_dir:
            runlog.append_metrics(self.run_dir, record)
            self.save_checkpoint()
        self.observer.epoch_end(record)

    def summary(self, seconds):
        steps_per_epoch = len(self.train_loader)
        return {
            "model": self.cfg.model, "dataset": self.cfg.dataset, "precision": self.cfg.precision,
            "test_accuracy": self.last_test["accuracy"], "test_loss": self.last_test["loss"],
            "images_per_s": self.totals["images"] / max(self.totals["seconds"], 1e-9),
            "epochs": round(self.step / steps_per_epoch, 4), "steps": self.step,
            "batch_size": self.cfg.batch_size, "seed": self.cfg.seed,
            "threads": dfpengine.get_num_threads(), "seconds": seconds,
            "run_dir": str(self.run_dir) if self.run_dir else None,
        }

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self):
        if self.checkpoint_dir is None:
            return
        state = {
            "config": self.cfg.to_dict(),
            "position": {"epoch": self.epoch, "batch": self.batch, "step": self.step},
            "epoch_stats": self.epoch_stats, "totals": self.totals,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "engine_rng": dfpengine.get_rng_state(),
        }
        checkpoint.save(self.checkpoint_dir, self.model.state_dict(), state)

    def resume(self):
        """Continue from the run directory's checkpoint."""
        if self.checkpoint_dir is None or not checkpoint.exists(self.checkpoint_dir):
            raise checkpoint.CheckpointError(f"no checkpoint to resume from in {self.run_dir}")
        weights, state = checkpoint.load(self.checkpoint_dir)
        _check_same_run(state["config"], self.cfg)
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        dfpengine.set_rng_state(state["engine_rng"])
        position = state["position"]
        self.epoch, self.batch, self.step = position["epoch"], position["batch"], position["step"]
        self.epoch_stats, self.totals = state["epoch_stats"], state["totals"]
        runlog.keep_metrics_before(self.run_dir, self.epoch + 1)


# settings a resumed run may change; any other difference would make it another run
RESUMABLE_CHANGES = ("epochs", "max_steps", "threads", "out", "data_dir")


def _check_same_run(saved, cfg):
    current = cfg.to_dict()
    changed = [k for k in current if k not in RESUMABLE_CHANGES and saved.get(k) != current[k]]
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
        raise ValueError(f"cannot resume with different settings ({details})")


def train(cfg, resume=False, observer=None):
    """Run a training job described by `cfg`; with `resume`, continue from cfg.out's checkpoint."""
    trainer = Trainer(cfg, observer)
    if resume:
        trainer.resume()
    return trainer.run()
