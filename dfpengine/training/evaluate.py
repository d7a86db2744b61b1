"""Loss and accuracy of a model over a loader, without gradients."""
import time

import numpy as np

import dfpengine
from dfpengine.nn import functional as F


def evaluate(net, loader):
    """{"loss", "accuracy", "images", "images_per_s"} over every batch of `loader`; leaves `net` in eval mode."""
    net.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    with dfpengine.no_grad():
        for x, y in loader.epoch(0):
            logits = net(dfpengine.from_numpy(x))
            loss_sum += F.cross_entropy(logits, dfpengine.from_numpy(y)).item() * len(y)
            correct += int(np.count_nonzero(logits.numpy().argmax(axis=1) == y))
            seen += len(y)
    seconds = time.perf_counter() - start
    return {"loss": loss_sum / seen, "accuracy": correct / seen, "images": seen,
            "images_per_s": seen / seconds if seconds > 0 else float("inf")}
