"""Optimizers and learning-rate schedulers (`dfpengine.optim.lr_scheduler`)."""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "lr_scheduler"]
