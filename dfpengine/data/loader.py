"""Dataset and DataLoader: seeded shuffling, augmentation, batches built in a background thread.

Every random choice is a pure function of (seed, epoch, batch index): the order
of epoch e comes from a generator keyed (seed, e) and the augmentation of batch
b from one keyed (seed, e, b). A run resumed at any batch boundary therefore sees
exactly the batches an uninterrupted run would, with no generator state to save.
"""
import queue
import threading
from dataclasses import dataclass

import numpy as np

from . import transforms

_ORDER, _AUGMENT = 0, 1          # stream tags, so order and augmentation never share draws


@dataclass
class ArrayDataset:
    """Images (N, C, H, W), uint8 or float, with int64 labels (N,)."""
    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self):
        return len(self.labels)


class DataLoader:
    """Batches of (float32 NCHW images, int64 labels) for one epoch at a time."""

    def __init__(self, dataset, batch_size, mean, std, shuffle=False, seed=0,
                 crop_padding=0, flip=False, drop_last=False, prefetch=2):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset, self.batch_size = dataset, batch_size
        self.mean, self.std = mean, std
        self.shuffle, self.seed = shuffle, seed
        self.crop_padding, self.flip = crop_padding, flip
        self.drop_last, self.prefetch = drop_last, prefetch

    def __len__(self):
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self, epoch):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, _ORDER, epoch]).permutation(n)

    def batch(self, epoch, index, order):
        """Batch `index` of `epoch`, given that epoch's order."""
        take = order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.dataset.images[take]
        rng = np.random.default_rng([self.seed, _AUGMENT, epoch, index])
        if self.crop_padding:
            x = transforms.random_crop(x, self.crop_padding, rng)
        if self.flip:
            x = transforms.random_hflip(x, rng)
        return transforms.normalize(x, self.mean, self.std), self.dataset.labels[take]

    def epoch(self, epoch=0, start=0):
        """Iterator over batches start.. of `epoch`, prepared ahead in a thread; close() it when done early."""
        order = self.order(epoch)
        return Prefetcher(lambda i: self.batch(epoch, i, order), range(start, len(self)), self.prefetch)

    def __iter__(self):
        return iter(self.epoch(0))


class _Failure:
    def __init__(self, exc):
        self.exc = exc


_END = object()


def _put(q, stop, item):
    # a bounded wait, so that close() can always stop a producer blocked on a full queue
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce_into(produce, indices, q, stop):
    try:
        for i in indices:
            if not _put(q, stop, produce(i)):
                return
        _put(q, stop, _END)
    except BaseException as exc:   # handed to the consumer, which re-raises it
        _put(q, stop, _Failure(exc))


class Prefetcher:
    """Runs `produce(i)` for i in `indices` in a daemon thread, at most `depth` results ahead.

    The consumer iterates; an exception in the producer is re-raised in the
    consumer; close() (also on exhaustion, on exit of a `with` block and on
    garbage collection) stops the thread and joins it.
    """

    def __init__(self, produce, indices, depth=2):
        self._queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        # the thread gets the queue and the event, not self, so that dropping the
        # iterator lets __del__ run and stop it
        self._thread = threading.Thread(
            target=_produce_into, args=(produce, indices, self._queue, self._stop),
            name="dfpengine-data", daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._stop.is_set():
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.exc
        return item

    def close(self):
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_thread", None) is not None and self._thread.is_alive():
            self.close()
