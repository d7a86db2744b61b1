"""Layers: each holds parameters and buffers and calls one op; numerics live in `dfpengine.ops`."""
import math

import numpy as np

from .. import ops
from ..ops.conv import pair
from ..tensor import Tensor
from . import init
from .module import Module, Parameter
from .utils import fusion_enabled


class _GemmLayer(Module):
    """Conv2d and Linear: weight and optional bias initialised as PyTorch does; `role` and `name`
    tell the precision policy which formats this layer's GEMMs use."""

    def __init__(self, weight_shape, bias):
        super().__init__()
        self.role = "other"
        self.name = None
        self.weight = Parameter(np.empty(weight_shape, dtype=np.float32))
        self.bias = Parameter(np.empty(weight_shape[0], dtype=np.float32)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)


class Conv2d(_GemmLayer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        self.kernel_size = pair("kernel_size", kernel_size)
        super().__init__((out_channels, in_channels) + self.kernel_size, bias)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding = pair("stride", stride), pair("padding", padding)
        self.dilation = pair("dilation", dilation)

    def forward(self, x):
        return ops.conv.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, layer=self)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class Linear(_GemmLayer):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__((out_features, in_features), bias)
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x):
        return ops.linear.linear(x, self.weight, self.bias, layer=self)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _BatchNorm(Module):
    input_ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, np.float32)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x, relu=False, residual=None):
        """`relu=True`: relu(bn(x) + residual) (residual optional), fused unless
        `nn.utils.fusion(False)` is in effect."""
        if x.ndim not in self.input_ndims:
            raise ValueError(f"{type(self).__name__}: expected {' or '.join(map(str, self.input_ndims))}-d "
                             f"input, received shape {x.shape}")
        if residual is not None and not relu:
            raise ValueError(f"{type(self).__name__}: residual is only taken with relu=True")
        factor = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.numpy()[...] += 1
            if self.momentum is None:  # cumulative moving average, as PyTorch
                factor = 1.0 / int(self.num_batches_tracked.item())
        use_batch_stats = self.training or not self.track_running_stats
        args = (x, self.running_mean, self.running_var, self.weight, self.bias, use_batch_stats, factor,
                self.eps)
        if relu and fusion_enabled():
            return ops.norm.batch_norm_relu(*args, residual=residual)
        y = ops.norm.batch_norm(*args)
        if not relu:
            return y
        return ops.activation.relu(y if residual is None else y + residual)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm2d(_BatchNorm):
    input_ndims = (4,)


class BatchNorm1d(_BatchNorm):
    input_ndims = (2, 3)


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace  # accepted for PyTorch compatibility; results never alias the input

    def forward(self, x):
        return ops.activation.relu(x)


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    def forward(self, x):
        return ops.pool.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    def forward(self, x):
        return ops.pool.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return ops.pool.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: expected probability p in [0, 1], received {p}")
        self.p = p

    def forward(self, x):
        return ops.activation.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return ops.shape.flatten(x, self.start_dim, self.end_dim)


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
