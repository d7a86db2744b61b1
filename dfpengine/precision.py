"""Precision policies: which format each (layer role, pass) uses.

Layers carry `role` ("first", "last", "other") and `name`; ops ask
`current().gemm_format(layer, pass_)` and get a GemmFormat or None (FP32).
Presets (`PRESETS`): fp32; fp8 (FP16 first/last layers, dynamic loss scaling:
`policy.loss_scaler()`); hbfp8/6/4; boosters
(HBFP4, HBFP6 for first/last layers and the last epoch). `SchedulePolicy` and
`Rule` build others by layer role and training progress.
"""
import contextlib
import hashlib
from dataclasses import dataclass

PASSES = ("fprop", "bprop", "wtgrad")
ROLES = ("first", "last", "other")


def _check_role_pass(role, pass_):
    if role not in ROLES:
        raise ValueError(f"role: expected one of {ROLES}, received {role!r}")
    if pass_ not in PASSES:
        raise ValueError(f"pass_: expected one of {PASSES}, received {pass_!r}")


class _RoleOnly:
    """A stand-in layer that has only a role (for Policy.format_at)."""
    def __init__(self, role):
        self.role = role


class Policy:
    """Maps (layer, pass) to a GemmFormat; the FP32 policy maps everything to None."""

    name = "fp32"
    step = None      # global training step from set_progress; None outside a training loop

    def gemm_format(self, layer, pass_):
        return None

    def format_at(self, role, pass_, epoch=0, total_epochs=1, step=0, total_steps=1):
        """Format tag a layer of `role` ("first", "last", "other") gets in `pass_` at
        this point of training (the policy's own progress is left as it was): the tag of
        the GEMM format the policy gives such a layer, "fp32" for none."""
        _check_role_pass(role, pass_)
        fmt = self.gemm_format(_RoleOnly(role), pass_)
        return "fp32" if fmt is None else fmt.a.name

    def set_progress(self, epoch=0, total_epochs=1, step=0, total_steps=1):
        """Training progress, for policies with schedules; `step` also keys stochastic rounding."""
        self.step = step

    loss_scale = None   # None, "dynamic" or a float (static): see loss_scaler()

    def loss_scaler(self):
        """A fresh `optim.GradScaler` for this policy's loss scaling, or None."""
        if self.loss_scale is None:
            return None
        from dfpengine.optim import GradScaler
        if self.loss_scale == "dynamic":
            return GradScaler(init_scale=FP8_INIT_LOSS_SCALE)
        return GradScaler(init_scale=float(self.loss_scale), dynamic=False)


class DFP16Policy(Policy):
    """DFP16 (Das et al. 2018) for every conv/linear GEMM, all roles and passes.

    Operand order per pass: fprop (act, weight), bprop (grad, weight), wtgrad
    (grad, act). Activations and weights round to nearest (ties to even): they
    are re-quantised every step and nearest has the smallest error. Gradients
    round stochastically: many of them are a small fraction of the tensor's max
    and nearest would bias them towards zero step after step; stochastic
    rounding is unbiased, and its counter-based bits keep seeded runs
    reproducible. Headroom shift 2 (13 magnitude bits) as in the paper.
    Master weights, SGD and batch norm stay FP32 (outside this policy)."""

    name = "dfp16"

    def __init__(self, shift=2, act_rounding="nearest", weight_rounding="nearest",
                 grad_rounding="stochastic", seed=0):
        from dfpengine import formats
        act = formats.dfp16(rounding=act_rounding, shift=shift, seed=seed)
        weight = formats.dfp16(rounding=weight_rounding, shift=shift, seed=seed)
        grad = formats.dfp16(rounding=grad_rounding, shift=shift, seed=seed)
        self._formats = {"fprop": formats.GemmFormat(act, weight),
                         "bprop": formats.GemmFormat(grad, weight),
                         "wtgrad": formats.GemmFormat(grad, act)}

    def gemm_format(self, layer, pass_):
        if pass_ not in PASSES:
            raise ValueError(f"pass_: expected one of {PASSES}, received {pass_!r}")
        return self._formats[pass_]



@dataclass(frozen=True)
class Rule:
    """Use `fmt` (a registry name, or "fp32") for layers of `roles` in `passes`,
    during the last `last_epochs` epochs, or the last `last_fraction` of steps,
    or always when both are None."""
    fmt: str
    roles: tuple = ROLES
    passes: tuple = PASSES
    last_epochs: int = None
    last_fraction: float = None


class SchedulePolicy(Policy):
    """First matching rule wins; a layer no rule matches gets `default`.
    Schedules by layer role and training progress (set_progress, called by the
    training loop at each epoch/step)."""

    def __init__(self, name, default, rules=(), loss_scale=None):
        self.name, self.default, self.rules = name, default, tuple(rules)
        self.loss_scale = loss_scale
        self.epoch, self.total_epochs, self.step, self.total_steps = 0, 1, 0, 1

    def set_progress(self, epoch=0, total_epochs=1, step=0, total_steps=1):
        self.epoch, self.total_epochs, self.step, self.total_steps = epoch, total_epochs, step, total_steps

    def _active(self, rule):
        if rule.last_epochs is not None and self.epoch >= self.total_epochs - rule.last_epochs:
            return True
        if rule.last_fraction is not None and \
                self.step >= (1.0 - rule.last_fraction) * self.total_steps:
            return True
        return rule.last_epochs is None and rule.last_fraction is None

    def format_at(self, role, pass_, epoch=0, total_epochs=1, step=0, total_steps=1):
        saved = (self.epoch, self.total_epochs, self.step, self.total_steps)
        self.epoch, self.total_epochs, self.step, self.total_steps = epoch, total_epochs, step, total_steps
        try:
            return super().format_at(role, pass_)
        finally:
            self.epoch, self.total_epochs, self.step, self.total_steps = saved

    def format_name(self, layer, pass_):
        role = getattr(layer, "role", "other")
        for rule in self.rules:
            if role in rule.roles and pass_ in rule.passes and self._active(rule):
                return rule.fmt
        return self.default

    def gemm_format(self, layer, pass_):
        return gemm_format_for(self.format_name(layer, pass_))


def stream_key(step, layer_name, use, pass_):
    """Stochastic-rounding stream of one GEMM: a 61-bit hash of (global step, layer name, the
    layer's use within the step, pass), so 2*key+1 (per-operand streams) fits in 64 bits."""
    text = f"{step}/{layer_name}/{use}/{pass_}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 3


def gemm_formats(layer, policy=None):
    """(fprop, bprop, wtgrad) GemmFormats `policy` (default: the current one) gives `layer`.

    Inside a training loop (the policy has a step from set_progress) and for a named layer
    (nn.utils.assign_layer_roles names them), each format carries the stream key of
    (step, layer, use of the layer in this step, pass): the random numbers stochastic
    rounding draws then depend only on where in training a GEMM runs, never on how many
    GEMMs ran before in the process, so a run resumed from a checkpoint stays bit-identical.
    Otherwise the formats are unkeyed and the glue takes fresh streams from its counter."""
    policy = policy or current()
    fmts = tuple(policy.gemm_format(layer, pass_) for pass_ in PASSES)
    step, name = getattr(policy, "step", None), getattr(layer, "name", None)
    if step is None or name is None or all(f is None for f in fmts):
        return fmts
    uses = policy.__dict__.get("_layer_uses")
    if uses is None or uses[0] != step:
        uses = policy._layer_uses = (step, {})
    use = uses[1][name] = uses[1].get(name, -1) + 1
    return tuple(None if f is None else _with_stream(f, stream_key(step, name, use, p))
                 for f, p in zip(fmts, PASSES))


def _with_stream(fmt, key):
    """dataclasses.replace(fmt, stream=key) for the frozen GemmFormat (and subclasses): a copy
    of its fields, without replace's re-initialisation (a tenth of a step's Python time)."""
    new = object.__new__(type(fmt))
    new.__dict__.update(fmt.__dict__)
    object.__setattr__(new, "stream", key)
    return new


def gemm_format_for(name):
    """GemmFormat (or None for fp32) of a registry format name, with its defaults
    (float formats: FP16 1-6-9 accumulation in chunks of 64; block formats: their rounding)."""
    from dfpengine import formats
    if name == "fp32":
        return None
    if name in formats.floats.FLOAT_FORMATS:
        return formats.floats.fp8_gemm_format(name=name)
    if name in formats.mx.MX_FLOAT_FORMATS:
        spec = formats.mx.spec(name)
        return formats.GemmFormat(spec, spec)
    if name not in formats.hbfp.BLOCK_FORMATS:
        raise ValueError(f"no GEMM format for {name!r}")
    spec = formats.hbfp.spec(name)
    return formats.GemmFormat(spec, spec)


_EDGE = ("first", "last")
# Dynamic loss scaling starts here for FP8: cross-entropy gradients of a batch
# mean (~1e-3 .. 1e-6) land above FP8's smallest subnormal 2^-16 and well below
# its max 57344; the scaler grows it after clean steps and backs off on inf/NaN.
FP8_INIT_LOSS_SCALE = 2.0 ** 10
PRESETS = {
    "fp32": Policy,
    "dfp16": DFP16Policy,
    # Wang et al.: FP8 GEMM inputs, first and last layers 16-bit, loss scaling
    "fp8": lambda: SchedulePolicy("fp8", "fp8", [Rule("fp16_169", _EDGE)], loss_scale="dynamic"),
    "hbfp8": lambda: SchedulePolicy("hbfp8", "hbfp8"),
    "hbfp6": lambda: SchedulePolicy("hbfp6", "hbfp6"),
    "hbfp4": lambda: SchedulePolicy("hbfp4", "hbfp4"),
    # Accuracy Boosters: HBFP4, HBFP6 for first/last layers and for the last epoch
    "boosters": lambda: SchedulePolicy("boosters", "hbfp4",
                                       [Rule("hbfp6", _EDGE), Rule("hbfp6", last_epochs=1)]),
}
_stack = [Policy()]


def current():
    return _stack[-1]


def preset(name):
    """Return the policy registered as `name`; usable as a context manager."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown precision preset {name!r}; known: {sorted(PRESETS)}") from None
    return factory()


@contextlib.contextmanager
def use(policy):
    """Make `policy` (a Policy or a preset name) current inside the block."""
    if isinstance(policy, str):
        policy = preset(policy)
    _stack.append(policy)
    try:
        yield policy
    finally:
        _stack.pop()


Policy.__enter__ = lambda self: (_stack.append(self), self)[1]
Policy.__exit__ = lambda self, *exc: _stack.pop() and None
