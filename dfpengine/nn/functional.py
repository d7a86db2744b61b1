"""Functional forms with PyTorch signatures; without a layer, GEMMs run in FP32."""
from .. import ops


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    return ops.conv.conv2d(input, weight, bias, stride, padding, dilation)


def linear(input, weight, bias=None):
    return ops.linear.linear(input, weight, bias)


def relu(input):
    return ops.activation.relu(input)


def max_pool2d(input, kernel_size, stride=None, padding=0):
    return ops.pool.max_pool2d(input, kernel_size, stride, padding)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    return ops.pool.avg_pool2d(input, kernel_size, stride, padding)


def adaptive_avg_pool2d(input, output_size):
    return ops.pool.adaptive_avg_pool2d(input, output_size)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    return ops.norm.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training=False,
                    momentum=0.1, eps=1e-5, residual=None):
    """relu(batch_norm(input) + residual) as one fused op (residual optional)."""
    return ops.norm.batch_norm_relu(input, running_mean, running_var, weight, bias, training, momentum,
                                    eps, residual)


def dropout(input, p=0.5, training=True):
    return ops.activation.dropout(input, p, training)


def log_softmax(input, dim):
    return ops.loss.log_softmax(input, dim)


def nll_loss(input, target, reduction="mean"):
    return ops.loss.nll_loss(input, target, reduction)


def cross_entropy(input, target, reduction="mean"):
    return ops.loss.cross_entropy(input, target, reduction)


def flatten(input, start_dim=0, end_dim=-1):
    return ops.shape.flatten(input, start_dim, end_dim)


def pad(input, pad, value=0.0):
    """Constant padding; `pad` lists (before, after) pairs from the last dimension back."""
    return ops.shape.pad(input, pad, value)


def subsample_pad(input, stride, before, after):
    """input[:, :, ::stride, ::stride] with `before` zero channels in front and `after` behind
    (the option-A shortcut of CIFAR ResNets), in one pass each way."""
    return ops.shape.subsample_pad(input, stride, before, after)
