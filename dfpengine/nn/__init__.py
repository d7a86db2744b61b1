"""Neural-network modules, PyTorch-shaped: `dfpengine.nn.Conv2d`, `nn.functional`, `nn.init`."""
from . import functional, init, utils  # noqa: F401
from .containers import ModuleList, Sequential
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten,
                     Identity, Linear, MaxPool2d, ReLU)
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "Conv2d", "Linear", "BatchNorm1d",
           "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Dropout", "Flatten",
           "Identity", "functional", "init", "utils"]
