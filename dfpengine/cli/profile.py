"""`dfpengine profile`: where a training step's time goes, per layer and pass.

Runs a few training steps of a model on random data under a precision preset
and prints time, GOP/s, percent of peak, bytes, INT32 flushes and saturations
for every (layer, pass), plus a Chrome trace with --trace (open in Perfetto).
Percent of peak is against the selected ISA's arithmetic ceiling (FMA for
FP32, the int16 multiply-add for the integer formats), measured once by the
library's register-only micro-benchmark and cached per (ISA, threads) as the
largest value seen so far.
"""
import json
import os
import time

import numpy as np

# entries of older versions are ignored: peak1 held GEMM rates, not instruction
# peaks; peak2's int16 peaks of the avx2 and avx512 levels timed vpaddd alone
PEAK_CACHE_VERSION = "peak3"


def _peak_cache_path():
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "dfpengine", "peaks.json")


def measured_peaks(cache_path=None, measure=None):
    """Arithmetic peaks (ops/s) of the selected ISA and thread count: "fp32" from
    FMA chains, "dfp16" from the int16 multiply-add chains (vpdpwssd on VNNI).
    Measured on every call (about 0.4 s) and cached per (ISA, threads) as the
    largest value seen: a peak is a maximum, so a measurement taken while other
    jobs shared the cores (too low, which would inflate percent of peak) is
    replaced by the next quieter one instead of being kept for good."""
    from dfpengine import _native
    from dfpengine._native import _dispatch
    measure = measure or _dispatch.measure_peak
    key = f"{PEAK_CACHE_VERSION}-{_native.isa_selected()}-{_native.get_num_threads()}"
    path = cache_path or _peak_cache_path()
    try:
        with open(path) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    old = cache.get(key) if isinstance(cache.get(key), dict) else {}
    now = {"fp32": measure("fp32"), "dfp16": measure("int16")}
    best = {k: max(v, old.get(k, 0.0)) if isinstance(old.get(k), (int, float)) else v for k, v in now.items()}
    if best != old:
        cache[key] = best
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(cache, f)
        os.replace(tmp, path)   # concurrent profiles never read a half-written file
    return best


def add_parser(sub):
    p = sub.add_parser("profile", help="time each layer and pass of a few training steps")
    p.add_argument("--model", default="resnet20", help="model from dfpengine.models")
    p.add_argument("--precision", default="dfp16", help="precision preset")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=3, help="profiled steps (after the warm-up steps)")
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed steps first (default 2: the process's memory grows to its peak over "
                        "the first two, and the first touch of those pages made one layer of ResNet-20 "
                        "take 7x its time in the second step)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--image-size", type=int, default=None, help="input size (default: the model's usual)")
    p.add_argument("--trace", metavar="FILE", help="write a Chrome trace (JSON) here")
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    p.set_defaults(func=run)


def _model_and_batch(args):
    import dfpengine
    from dfpengine import model_zoo, nn
    channels, size = (1, 28) if args.model in ("lenet5", "mlp") else (3, 32)
    size = args.image_size or size
    model = model_zoo.create(args.model, 10, channels, size)
    nn.utils.assign_layer_roles(model)
    rng = np.random.default_rng(0)
    x = dfpengine.from_numpy(rng.standard_normal((args.batch_size, channels, size, size)).astype(np.float32))
    y = dfpengine.from_numpy(rng.integers(0, 10, args.batch_size))
    return model, x, y


def run(args):
    import dfpengine
    from dfpengine import _native, nn, optim, precision, profiler
    if args.steps < 1 or args.batch_size < 1 or args.warmup < 0:
        raise ValueError("--steps and --batch-size must be positive, --warmup at least 0")
    if args.threads:
        dfpengine.set_num_threads(args.threads)
    policy = precision.preset(args.precision)
    model, x, y = _model_and_batch(args)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        with precision.use(policy):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for _ in range(args.warmup):
        step()
    peak = measured_peaks()
    gemm_peak = peak["fp32" if args.precision == "fp32" else "dfp16"]
    peaks = {"conv": gemm_peak, "linear": gemm_peak}
    t0 = time.perf_counter()
    with profiler.Profiler(model) as prof:
        for _ in range(args.steps):
            step()
    step_seconds = (time.perf_counter() - t0) / args.steps
    rows = prof.summary(steps=args.steps, peaks=peaks)
    if args.trace:
        with open(args.trace, "w") as f:
            json.dump(prof.chrome_trace(), f)
    meta = dict(model=args.model, precision=args.precision, batch=args.batch_size,
                isa=_native.isa_selected(), threads=_native.get_num_threads(),
                step_seconds=step_seconds, images_per_s=args.batch_size / step_seconds,
                profiled_seconds=sum(r["seconds"] for r in rows),
                peak_gemm_gops=round(gemm_peak / 1e9, 1))
    if args.json:
        print(json.dumps(dict(record="step", **meta)))
        for r in rows:
            print(json.dumps(dict(record="row", **r)))
        return 0
    _print_table(rows, meta)
    return 0


def _print_table(rows, meta):
    print(f"{meta['model']} {meta['precision']} batch {meta['batch']} on {meta['isa']} x{meta['threads']}: "
          f"{meta['step_seconds'] * 1e3:.1f} ms/step, {meta['images_per_s']:.0f} images/s "
          f"(GEMM peak {meta['peak_gemm_gops']} GOP/s)")
    head = f"{'layer':<18}{'pass':<8}{'kind':<11}{'ms':>8}{'%step':>7}{'GOP/s':>8}{'%peak':>7}" \
           f"{'MB':>8}{'flushes':>10}{'sat':>6}"
    print(head)
    for r in sorted(rows, key=lambda r: -r["seconds"]):
        pct = f"{r['percent_of_peak']:.0f}" if r["percent_of_peak"] else "-"
        print(f"{r['layer'][:17]:<18}{r['pass']:<8}{r['kind']:<11}{r['seconds'] * 1e3:8.2f}"
              f"{100 * r['seconds'] / meta['step_seconds']:7.1f}{r['gops']:8.1f}{pct:>7}"
              f"{r['bytes'] / 1e6:8.1f}{r['flushes']:10.0f}{r['saturations']:6.0f}")
    other = meta["step_seconds"] - meta["profiled_seconds"]
    print(f"{'(python, autograd, other)':<37}{other * 1e3:8.2f}{100 * other / meta['step_seconds']:7.1f}")
