"""Batch augmentations and normalisation on NCHW arrays, vectorised over the batch.

Augmentations work on the stored (uint8) pixels, so crop padding is black as in
torchvision, and take an explicit numpy Generator so a batch is reproducible.
"""
import numpy as np


def random_crop(x, padding, rng):
    """Zero-pad each image by `padding` on every side and cut a random HxW window."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    top = rng.integers(0, 2 * padding + 1, size=n)
    left = rng.integers(0, 2 * padding + 1, size=n)
    rows = (top[:, None] + np.arange(h))[:, None, :, None]
    cols = (left[:, None] + np.arange(w))[:, None, None, :]
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]


def random_hflip(x, rng):
    """Mirror each image left-right with probability 1/2."""
    flip = rng.random(len(x)) < 0.5
    out = x.copy()
    out[flip] = x[flip, :, :, ::-1]
    return out


def normalize(x, mean, std):
    """Per-channel (x - mean) / std as float32; uint8 pixels are first scaled to [0, 1]."""
    scaled = x.astype(np.float32)
    if x.dtype == np.uint8:
        scaled *= np.float32(1 / 255)
    mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return (scaled - mean) / std
