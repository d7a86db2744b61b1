"""TrainConfig: everything that defines a training run, saved as the run's config.json."""
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

SCHEDULES = ("none", "step", "multistep", "cosine")


@dataclass
class TrainConfig:
    model: str = "lenet5"
    dataset: str = "fashion-mnist-small"
    data_dir: str = None
    precision: str = "fp32"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    seed: int = 0
    threads: int = None
    max_steps: int = None        # stop after this many optimizer steps in total (tests, smoke runs)
    limit_train: int = None      # train on the first N training images only (smoke runs of big data sets)
    limit_test: int = None       # evaluate on the first N test images only
    out: str = None              # run directory: config, metrics, checkpoint, plots

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; known: {', '.join(SCHEDULES)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_steps", "limit_train", "limit_test"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def save(self, path):
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path):
        return cls.from_dict(json.loads(Path(path).read_text()))
