"""Named data sets: where their files are found and how they are prepared.

`load(name, data_dir)` returns a `DataSplits`. Names: `fashion-mnist-small`
(bundled with the package), `fashion-mnist`, `mnist`, `cifar10`, `cifar100`,
and `npz:PATH`.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dfpengine import config

from .cifar import read_cifar_batches
from .errors import DatasetNotFoundError
from .idx import read_idx_pair
from .npz import read_npz

BUNDLED = Path(__file__).with_name("fashion_mnist_small.npz")
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
NAMES = ("fashion-mnist-small", "fashion-mnist", "mnist", "cifar10", "cifar100", "npz:PATH")

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# published per-channel statistics of each training set, on pixels in [0, 1]
_STATS = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


@dataclass
class DataSplits:
    name: str
    x_train: np.ndarray          # (N, C, H, W), uint8 or float
    y_train: np.ndarray          # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    mean: tuple
    std: tuple
    crop_padding: int = 0        # training augmentation the data set is usually trained with
    flip: bool = False

    @property
    def in_channels(self):
        return self.x_train.shape[1]

    @property
    def image_size(self):
        return self.x_train.shape[2]


def _first_dir_with(name, candidates, required):
    """The first candidate directory holding every file in `required` (each with or without .gz)."""
    for folder in candidates:
        found = []
        for fname in required:
            options = [folder / fname, folder / (fname + ".gz")]
            hit = next((p for p in options if p.is_file()), None)
            if hit is None:
                break
            found.append(hit)
        else:
            return found
    raise DatasetNotFoundError(name, candidates, f"expected files {list(required)}")


def _idx_dataset(name, folders, stats_name):
    files = _first_dir_with(name, folders, (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    x_train, y_train = read_idx_pair(files[0], files[1])
    x_test, y_test = read_idx_pair(files[2], files[3])
    mean, std = _STATS[stats_name]
    return DataSplits(name, x_train, y_train, x_test, y_test, 10, mean, std)


def _npz_dataset(name, path, stats=None):
    if not Path(path).is_file():
        raise DatasetNotFoundError(name, [path])
    x_train, y_train, x_test, y_test = read_npz(path)
    if stats is None:
        scale = 255.0 if x_train.dtype == np.uint8 else 1.0
        pixels = x_train.astype(np.float64) / scale
        stats = (tuple(pixels.mean((0, 2, 3))), tuple(pixels.std((0, 2, 3)) + 1e-12))
    num_classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    return DataSplits(name, x_train, y_train, x_test, y_test, num_classes, *stats)


def _dirs(data_dir, *subdirs, system=None):
    folders = []
    if data_dir is not None:
        folders += [Path(data_dir)] + [Path(data_dir) / s for s in subdirs]
    if system is not None:
        folders.append(system)
    return folders


def load(name, data_dir=None):
    """Read data set `name`; `data_dir` (default $DFPENGINE_DATA_DIR) is searched before the system location."""
    if data_dir is None:
        data_dir = config.data_dir()
    if name == "fashion-mnist-small":
        return _npz_dataset(name, BUNDLED, _STATS["fashion-mnist"])
    if name == "fashion-mnist":
        folders = _dirs(data_dir, "fashion-mnist", "fashion_mnist", system=SYSTEM_FASHION_MNIST)
        return _idx_dataset(name, folders, "fashion-mnist")
    if name == "mnist":
        return _idx_dataset(name, _dirs(data_dir, "mnist", system=Path("/usr/share/datasets/mnist")), "mnist")
    if name in ("cifar10", "cifar100"):
        return _cifar_dataset(name, data_dir)
    if name.startswith("npz:"):
        return _npz_dataset(name, Path(name[4:]))
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(NAMES)}")


def _cifar_dataset(name, data_dir):
    if name == "cifar10":
        folders = _dirs(data_dir, "cifar-10-batches-bin")
        train_files = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
        files = _first_dir_with(name, folders, train_files + ("test_batch.bin",))
    else:
        folders = _dirs(data_dir, "cifar-100-binary")
        files = _first_dir_with(name, folders, ("train.bin", "test.bin"))
    x_train, y_train = read_cifar_batches(files[:-1], name)
    x_test, y_test = read_cifar_batches(files[-1:], name)
    num_classes = 10 if name == "cifar10" else 100
    mean, std = _STATS[name]
    return DataSplits(name, x_train, y_train, x_test, y_test, num_classes, mean, std,
                      crop_padding=4, flip=True)
