"""Training runs: configuration, the loop, evaluation, run-directory files, plots."""
from .config import SCHEDULES, TrainConfig
from .trainer import Observer, Trainer, TrainingInterrupted, train

__all__ = ["Observer", "SCHEDULES", "TrainConfig", "Trainer", "TrainingInterrupted", "train"]
