"""Data: file readers (IDX, CIFAR binary, .npz), named data sets, a seeded threaded loader."""
from .cifar import read_cifar_batch, read_cifar_batches
from .datasets import BUNDLED, NAMES, DataSplits, load
from .errors import DataFormatError, DatasetNotFoundError
from .idx import read_idx, read_idx_pair
from .loader import ArrayDataset, DataLoader, Prefetcher
from .npz import read_npz

__all__ = [
    "ArrayDataset", "BUNDLED", "DataFormatError", "DataLoader", "DataSplits",
    "DatasetNotFoundError", "NAMES", "Prefetcher", "load", "read_cifar_batch",
    "read_cifar_batches", "read_idx", "read_idx_pair", "read_npz",
]
