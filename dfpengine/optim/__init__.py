"""Optimizers, loss scaling (`GradScaler`) and learning-rate schedulers (`dfpengine.optim.lr_scheduler`)."""
from . import lr_scheduler  # noqa: F401
from .grad_scaler import GradScaler
from .optimizer import Optimizer
from .sgd import SGD
from .sgd_fp16 import SGDFP16

__all__ = ["GradScaler", "Optimizer", "SGD", "SGDFP16", "lr_scheduler"]
