"""IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.

Layout: two zero bytes, a type code, the number of dimensions, one big-endian
int32 per dimension, then the values in C order, big-endian.
"""
import gzip
import zlib

import numpy as np

from .errors import DataFormatError

_TYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_bytes(path):
    """The file's content, decompressed when it starts with the gzip magic."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(path, f"corrupt or truncated gzip stream ({exc})") from None


def read_idx(path):
    """Return the array stored in the IDX file at `path` (native byte order)."""
    data = read_bytes(path)
    if len(data) < 4:
        raise DataFormatError(path, f"too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise DataFormatError(path, "not an IDX file (magic must start with two zero bytes)")
    code, ndim = data[2], data[3]
    if code not in _TYPES:
        raise DataFormatError(path, f"unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataFormatError(path, f"truncated IDX header ({ndim} dimensions, {len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = _TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataFormatError(
            path, f"{what}: shape {shape} needs {expected} bytes, file has {len(data)}")
    values = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx_pair(images_path, labels_path):
    """Images as (N, 1, H, W) uint8 and labels as (N,) int64, checked against each other."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataFormatError(
            images_path, f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1:
        raise DataFormatError(labels_path, f"expected labels of shape (N,), got {labels.shape}")
    if len(labels) != len(images):
        raise DataFormatError(
            labels_path, f"{len(labels)} labels do not match {len(images)} images in {images_path}")
    return images[:, None, :, :], labels.astype(np.int64)
