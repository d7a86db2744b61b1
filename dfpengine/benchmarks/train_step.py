"""Training-step throughput: dfpengine against PyTorch on the same CPU.

One configuration = (engine, model, precision, layout, threads). All
configurations are built and warmed up first, then measured round-robin, so
machine noise hits every configuration alike; each reports the median
images/s of its repeats. PyTorch joins when it is installed (optional peer).
"""
import statistics
import time

import numpy as np

INPUT_SHAPES = {"resnet20": (3, 32, 32), "lenet5": (1, 28, 28)}
NUM_CLASSES = 10


def _batch(model, batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + INPUT_SHAPES[model]).astype(np.float32)
    y = rng.integers(0, NUM_CLASSES, size=batch).astype(np.int64)
    return x, y


def dfpengine_step(model_name, precision_name, batch):
    import dfpengine
    from dfpengine import model_zoo, nn, optim, precision
    channels, height, _ = INPUT_SHAPES[model_name]
    model = model_zoo.create(model_name, NUM_CLASSES, channels, height)
    nn.utils.assign_layer_roles(model)
    model.train()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    policy = precision.preset(precision_name)
    policy.set_progress(epoch=0, total_epochs=10)   # a mid-run step (boosters: HBFP4 phase)
    scaler = policy.loss_scaler()                   # fp8: loss scaling, as the trainer does
    x_np, y_np = _batch(model_name, batch)
    x, y = dfpengine.from_numpy(x_np), dfpengine.from_numpy(y_np)

    def step():
        with precision.use(policy):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
    return step


def torch_step(model_name, dtype, layout, batch):
    import torch
    from dfpengine.benchmarks.torch_models import MODELS
    model = MODELS[model_name](num_classes=NUM_CLASSES, in_channels=INPUT_SHAPES[model_name][0])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x_np, y_np = _batch(model_name, batch)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=(dtype == "bf16")):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def torch_available():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def configurations(models, precisions, threads, with_torch):
    configs = []
    for model in models:
        for n in threads:
            for p in precisions:
                configs.append(dict(engine="dfpengine", model=model, precision=p,
                                    layout="NCHW", threads=n))
            if with_torch:
                for dtype in ("fp32", "bf16"):
                    for layout in ("NCHW", "channels_last"):
                        configs.append(dict(engine="pytorch", model=model, precision=dtype,
                                            layout=layout, threads=n))
    return configs


def _set_threads(config):
    import dfpengine
    dfpengine.set_num_threads(config["threads"])
    if config["engine"] == "pytorch":
        import torch
        torch.set_num_threads(config["threads"])


def run(models=("resnet20", "lenet5"), precisions=("fp32", "dfp16"), threads=(1, 2),
        batch=128, steps=20, repeats=5, warmup=3, with_torch=None, progress=None):
    """Measure every configuration; return a list of result dicts."""
    if with_torch is None:
        with_torch = torch_available()
    configs = configurations(models, precisions, threads, with_torch)
    steps_fn = []
    for cfg in configs:
        _set_threads(cfg)
        if cfg["engine"] == "dfpengine":
            fn = dfpengine_step(cfg["model"], cfg["precision"], batch)
        else:
            fn = torch_step(cfg["model"], cfg["precision"], cfg["layout"].lower(), batch)
        for _ in range(warmup):
            fn()
        steps_fn.append(fn)
    rates = [[] for _ in configs]
    for r in range(repeats):
        for i, (cfg, fn) in enumerate(zip(configs, steps_fn)):
            _set_threads(cfg)
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            rates[i].append(batch * steps / (time.perf_counter() - start))
            if progress:
                progress(r, i, len(configs))
    results = []
    for cfg, rs in zip(configs, rates):
        results.append(dict(cfg, batch=batch, steps=steps, repeats=repeats,
                            images_per_s=round(statistics.median(rs), 1),
                            images_per_s_runs=[round(v, 1) for v in rs]))
    return results


def _paired_ratio(runs, peer_runs):
    """Median over repeats of runs[r] / (best of the peers in repeat r). The configurations
    run one after another inside each repeat, so a slow stretch of a shared machine hits a
    repeat's peers alike: pairing cancels what the ratio of two medians keeps."""
    if any(len(p) != len(runs) for p in peer_runs):
        return None
    return statistics.median(v / max(p[i] for p in peer_runs) for i, v in enumerate(runs))


def ratios(results):
    """dfpengine throughput over PyTorch's best FP32 and best bf16 (ratio of medians, and
    `_paired`: the median of the per-repeat ratios), and step time over dfpengine's FP32
    step, per model and threads."""
    out = []
    keys = {(r["model"], r["threads"]) for r in results}
    for model, threads in sorted(keys):
        same = [r for r in results if r["model"] == model and r["threads"] == threads]
        torch_best, torch_runs = {}, {}
        for dtype in ("fp32", "bf16"):
            peers = [r for r in same if r["engine"] == "pytorch" and r["precision"] == dtype]
            if peers:
                torch_best[dtype] = max(r["images_per_s"] for r in peers)
                torch_runs[dtype] = [r.get("images_per_s_runs", []) for r in peers]
        fp32 = [r["images_per_s"] for r in same if r["engine"] == "dfpengine" and r["precision"] == "fp32"]
        for r in same:
            if r["engine"] != "dfpengine":
                continue
            entry = dict(kind="ratio", model=model, threads=threads, precision=r["precision"])
            if fp32:   # step time over the dfpengine FP32 step of the same run
                entry["step_time_vs_fp32"] = round(fp32[0] / r["images_per_s"], 3)
            for dtype, best in torch_best.items():
                entry[f"vs_pytorch_best_{dtype}"] = round(r["images_per_s"] / best, 3)
                paired = _paired_ratio(r.get("images_per_s_runs", []), torch_runs[dtype])
                if paired is not None:
                    entry[f"vs_pytorch_best_{dtype}_paired"] = round(paired, 3)
            out.append(entry)
    return out
