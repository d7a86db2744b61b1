"""Evaluate a saved checkpoint: rebuild its model from the saved config, load the weights, test."""
import time

import dfpengine
from dfpengine import checkpoint, precision

from . import build
from .config import TrainConfig
from .evaluate import evaluate


def evaluate_checkpoint(directory, batch_size=256, **overrides):
    """Test-set result of the checkpoint in `directory`; `overrides` replace saved config fields."""
    start = time.perf_counter()
    weights, state = checkpoint.load(directory)
    cfg = TrainConfig.from_dict({**state["config"], **overrides, "batch_size": batch_size})
    splits = build.load_data(cfg)
    _, test_loader = build.loaders(cfg, splits)
    net = build.model(cfg, splits)
    net.load_state_dict(weights)
    with precision.use(cfg.precision):
        result = evaluate(net, test_loader)
    return {
        "model": cfg.model, "dataset": cfg.dataset, "precision": cfg.precision,
        "step": state["position"]["step"], "test_accuracy": result["accuracy"],
        "test_loss": result["loss"], "images": result["images"],
        "images_per_s": result["images_per_s"], "seconds": time.perf_counter() - start,
    }
