"""`Tensor`: a numpy array with a gradient; methods only wire to `dfpengine.ops`.

Floating-point data is stored as float32 (the engine's master precision);
integer data (class labels) as int64, booleans as bool. Only float tensors can
require grad. `.grad` is a Tensor, as in PyTorch; `numpy()` shares memory.
"""
import numpy as np

from . import autograd


def _as_array(data):
    if isinstance(data, Tensor):
        data = data.numpy()
    array = np.asarray(data)
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float32, copy=False)
    if kind in "iu":
        return array.astype(np.int64, copy=False)
    if kind == "b":
        return array
    raise TypeError(f"tensor: expected numbers (float, int or bool), received dtype {array.dtype}")


class Tensor:
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray + Tensor -> Tensor
    _grad_fresh = False     # promises of the op that made this tensor (autograd.record)
    _adds_into = None

    def __init__(self, data, requires_grad=False):
        self._data = _as_array(data)
        self.grad = None
        self._parents = ()
        self._backward = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---------------------------------------------------------- properties
    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def is_leaf(self):
        return self._backward is None

    @property
    def data(self):
        """A detached Tensor sharing this one's memory."""
        return Tensor(self._data)

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return self._data.size

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({np.array2string(self._data, separator=', ', prefix='tensor(')}{grad})"

    # ------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require grad; this one is {self.dtype}")
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use detach()")
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient=None):
        autograd.backward(self, gradient)

    def _accumulate_grad(self, grad):
        if self.grad is None:
            self.grad = Tensor(np.array(grad, dtype=np.float32, copy=True).reshape(self.shape))
        else:
            self.grad._data += grad

    def detach(self):
        return Tensor(self._data)

    def numpy(self):
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: expected a tensor with one element, received shape {self.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def zero_(self):
        self._data[...] = 0
        if getattr(self, "bn_plane_sums", None) is not None:
            self.bn_plane_sums = None  # the conv's sums of the old values (ops/norm.py)
        return self

    def float(self):
        return Tensor(self._data.astype(np.float32), requires_grad=False)

    def long(self):
        return Tensor(self._data.astype(np.int64))

    # ----------------------------------------------------------- operators
    def __add__(self, other):
        return _ops.elementwise.add(self, other)

    def __radd__(self, other):
        return _ops.elementwise.add(other, self)

    def __sub__(self, other):
        return _ops.elementwise.sub(self, other)

    def __rsub__(self, other):
        return _ops.elementwise.sub(other, self)

    def __mul__(self, other):
        return _ops.elementwise.mul(self, other)

    def __rmul__(self, other):
        return _ops.elementwise.mul(other, self)

    def __truediv__(self, other):
        return _ops.elementwise.div(self, other)

    def __rtruediv__(self, other):
        return _ops.elementwise.div(other, self)

    def __neg__(self):
        return _ops.elementwise.neg(self)

    def __pow__(self, exponent):
        return _ops.elementwise.pow(self, exponent)

    def __matmul__(self, other):
        return _ops.linear.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.linear.matmul(other, self)

    def __getitem__(self, index):
        return _ops.shape.getitem(self, index)

    # ------------------------------------------------------------- methods
    def exp(self):
        return _ops.elementwise.exp(self)

    def log(self):
        return _ops.elementwise.log(self)

    def sum(self, dim=None, keepdim=False):
        return _ops.reduce.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return _ops.reduce.mean(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _ops.reduce.argmax(self, dim, keepdim)

    def reshape(self, *shape):
        return _ops.shape.reshape(self, *shape)

    view = reshape

    def transpose(self, dim0, dim1):
        return _ops.shape.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _ops.shape.permute(self, *dims)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.shape.flatten(self, start_dim, end_dim)

    def matmul(self, other):
        return _ops.linear.matmul(self, other)

    def relu(self):
        return _ops.activation.relu(self)

    def log_softmax(self, dim):
        return _ops.loss.log_softmax(self, dim)


def as_tensor(value):
    """`value` itself if it is a Tensor, else a constant Tensor holding it."""
    return value if isinstance(value, Tensor) else Tensor(value)


# ------------------------------------------------------------ constructors
_generator = [np.random.default_rng()]


def manual_seed(seed):
    """Seed the generator behind randn, parameter initialisation and dropout."""
    _generator[0] = np.random.default_rng(seed)


def default_generator():
    return _generator[0]


def get_rng_state():
    return _generator[0].bit_generator.state


def set_rng_state(state):
    _generator[0].bit_generator.state = state


def _size(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


def tensor(data, requires_grad=False):
    """A new Tensor holding a copy of `data` (floats become float32, ints int64)."""
    return Tensor(np.array(_as_array(data), copy=True), requires_grad=requires_grad)


def from_numpy(array):
    """A Tensor sharing `array`'s memory when it is float32, int64 or bool (else a converted copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, received {type(array).__name__}")
    return Tensor(array)


def zeros(*size, requires_grad=False):
    return Tensor(np.zeros(_size(size), dtype=np.float32), requires_grad=requires_grad)


def ones(*size, requires_grad=False):
    return Tensor(np.ones(_size(size), dtype=np.float32), requires_grad=requires_grad)


def randn(*size, requires_grad=False):
    data = default_generator().standard_normal(_size(size), dtype=np.float32)
    return Tensor(data, requires_grad=requires_grad)


def rand(*size, requires_grad=False):
    data = default_generator().random(_size(size), dtype=np.float32)
    return Tensor(data, requires_grad=requires_grad)


class LazyArray:
    """An array computed on first `get()`, or `set()` by whoever computed it elsewhere."""

    def __init__(self, compute):
        self._array, self._compute = None, compute

    def get(self):
        if self._array is None:
            self._array, self._compute = self._compute(), None
        return self._array

    def set(self, array):
        self._array, self._compute = array, None


class DeferredTensor(Tensor):
    """A float32 tensor whose array (a LazyArray) is computed on first use. Until then
    `pending` says what it will be, so an op can consume that instead (the DFP16 conv
    quantises batch norm's output straight from batch norm's input: ("bn_relu", x, scale,
    shift, residual) for relu(x * scale + shift (+ residual)) per channel), and shape, ndim
    and dtype are known without it."""

    def __init__(self, shape, lazy, pending):
        self._lazy, self.pending = lazy, pending
        self._shape = tuple(shape)
        self.grad = None
        self._parents = ()
        self._backward = None
        self.requires_grad = False

    @property
    def _data(self):
        self.pending = None
        return self._lazy.get()

    @_data.setter
    def _data(self, value):
        self.pending = None
        self._lazy.set(value)

    @property
    def shape(self):
        return self._shape

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def dtype(self):
        return np.dtype(np.float32)


from . import ops as _ops  # noqa: E402  (ops import Tensor from this module)

