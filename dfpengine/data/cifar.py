"""CIFAR-10 and CIFAR-100 binary batches (the `*-binary` tarballs' `.bin` files).

Each record is the label byte(s) then 3072 pixel bytes (1024 red, green, blue
in row-major 32x32 order). CIFAR-100 records carry a coarse then a fine label.
"""
import numpy as np

from .errors import DataFormatError

_PIXELS = 3 * 32 * 32
# data set -> (label bytes per record, index of the label used, number of classes)
_LAYOUT = {"cifar10": (1, 0, 10), "cifar100": (2, 1, 100)}


def read_cifar_batch(path, variant="cifar10"):
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from one binary batch file."""
    label_bytes, label_index, num_classes = _LAYOUT[variant]
    record = label_bytes + _PIXELS
    with open(path, "rb") as f:
        raw = np.frombuffer(f.read(), np.uint8)
    if raw.size == 0 or raw.size % record:
        raise DataFormatError(
            path, f"size {raw.size} bytes is not a positive multiple of the {variant} record size {record}")
    records = raw.reshape(-1, record)
    labels = records[:, label_index].astype(np.int64)
    if labels.max() >= num_classes:
        raise DataFormatError(
            path, f"label {labels.max()} out of range for {variant} ({num_classes} classes); wrong variant?")
    images = records[:, label_bytes:].reshape(-1, 3, 32, 32)
    return images, labels


def read_cifar_batches(paths, variant="cifar10"):
    """Concatenate several batch files (e.g. data_batch_1..5)."""
    parts = [read_cifar_batch(p, variant) for p in paths]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
