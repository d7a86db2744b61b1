"""`.npz` data sets with arrays x_train, y_train, x_test, y_test.

Images may be (N, H, W), (N, C, H, W) or (N, H, W, C) with C in {1, 3}; they are
returned as (N, C, H, W). Labels are integer class indices.
"""
import zipfile

import numpy as np

from .errors import DataFormatError

KEYS = ("x_train", "y_train", "x_test", "y_test")


def _as_nchw(path, key, x):
    if x.ndim == 3:
        return x[:, None, :, :]
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    if x.ndim == 4 and x.shape[3] in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    raise DataFormatError(path, f"{key} has shape {x.shape}; expected (N,H,W), (N,C,H,W) or (N,H,W,C)")


def _check_labels(path, key, y, n):
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataFormatError(path, f"{key} must be a 1-D integer array, got {y.dtype} {y.shape}")
    if len(y) != n:
        raise DataFormatError(path, f"{key} has {len(y)} labels but the images have {n}")
    if len(y) and y.min() < 0:
        raise DataFormatError(path, f"{key} has negative labels")
    return y.astype(np.int64)


def read_npz(path):
    """Return (x_train, y_train, x_test, y_test), images NCHW, labels int64."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in KEYS if k not in archive.files]
            if missing:
                raise DataFormatError(path, f"missing arrays {missing}; has {sorted(archive.files)}")
            arrays = {k: archive[k] for k in KEYS}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, (DataFormatError, FileNotFoundError)):
            raise
        raise DataFormatError(path, f"not a readable .npz archive ({exc})") from None
    x_train = _as_nchw(path, "x_train", arrays["x_train"])
    x_test = _as_nchw(path, "x_test", arrays["x_test"])
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataFormatError(path, f"x_train images {x_train.shape[1:]} differ from x_test {x_test.shape[1:]}")
    y_train = _check_labels(path, "y_train", arrays["y_train"], len(x_train))
    y_test = _check_labels(path, "y_test", arrays["y_test"], len(x_test))
    return x_train, y_train, x_test, y_test
