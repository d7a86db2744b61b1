"""Write dfpengine/data/fashion_mnist_small.npz: a balanced subset of Fashion-MNIST.

Source: the Debian package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist)
or --source DIR. Picks TRAIN_PER_CLASS training and TEST_PER_CLASS test images of
each class with a fixed seed, kept in source order, and stores them with their
source indices. The archive is byte-for-byte reproducible (fixed zip timestamps).

    python scripts/make_bundled_subset.py [--source DIR] [--out PATH]
"""
import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dfpengine.data.idx import read_idx_pair  # noqa: E402

TRAIN_PER_CLASS, TEST_PER_CLASS, SEED = 600, 100, 20240501
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def balanced_indices(labels, per_class, rng):
    picks = [np.sort(rng.permutation(np.flatnonzero(labels == c))[:per_class])
             for c in range(10)]
    return np.sort(np.concatenate(picks))


def write_npz(path, arrays):
    """Like np.savez_compressed, but with fixed member timestamps so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default=str(ROOT / "dfpengine/data/fashion_mnist_small.npz"))
    args = parser.parse_args()
    src = Path(args.source)
    x_train, y_train = read_idx_pair(src / "train-images-idx3-ubyte.gz", src / "train-labels-idx1-ubyte.gz")
    x_test, y_test = read_idx_pair(src / "t10k-images-idx3-ubyte.gz", src / "t10k-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(SEED)
    train = balanced_indices(y_train, TRAIN_PER_CLASS, rng)
    test = balanced_indices(y_test, TEST_PER_CLASS, rng)
    write_npz(args.out, {
        "x_train": x_train[train, 0], "y_train": y_train[train].astype(np.uint8),
        "x_test": x_test[test, 0], "y_test": y_test[test].astype(np.uint8),
        "train_source_index": train.astype(np.int32), "test_source_index": test.astype(np.int32),
    })
    print(f"wrote {args.out}: {len(train)} train, {len(test)} test images, "
          f"{Path(args.out).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
