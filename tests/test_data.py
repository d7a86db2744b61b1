"""Data readers on small generated files (good, corrupt, truncated, mismatched) and the loader."""
import gzip
import struct
import threading

import numpy as np
import pytest

from dfpengine import data
from dfpengine.data import ArrayDataset, DataFormatError, DataLoader, DatasetNotFoundError


def idx_bytes(array, code=0x08):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx_set(folder, n=12, prefix="train", gz=False, rng=np.random.default_rng(0)):
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        blob = idx_bytes(array)
        path = folder / (f"{prefix}-{kind}-ubyte" + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(blob) if gz else blob)
    return images, labels


# ------------------------------------------------------------------- IDX
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    images, labels = write_idx_set(tmp_path, gz=gz)
    ext = ".gz" if gz else ""
    x, y = data.read_idx_pair(tmp_path / f"train-images-idx3-ubyte{ext}", tmp_path / f"train-labels-idx1-ubyte{ext}")
    np.testing.assert_array_equal(x[:, 0], images)
    np.testing.assert_array_equal(y, labels)
    assert x.shape == (12, 1, 28, 28) and y.dtype == np.int64


def test_idx_other_types_are_native_endian(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    (tmp_path / "f.idx").write_bytes(idx_bytes(values, 0x0D))
    out = data.read_idx(tmp_path / "f.idx")
    np.testing.assert_array_equal(out, values)
    assert out.dtype == np.float32


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:-5], "truncated"),
    (lambda b: b + b"\0", "trailing bytes"),
    (lambda b: b"\1\0" + b[2:], "not an IDX file"),
    (lambda b: b[:2] + b"\x42" + b[3:], "unknown IDX type"),
    (lambda b: b[:6], "truncated IDX header"),
    (lambda b: gzip.compress(b)[:-10], "gzip"),
])
def test_idx_corrupt_files_name_file_and_problem(tmp_path, mutate, message):
    blob = idx_bytes(np.zeros((3, 4, 4), np.uint8))
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(blob))
    with pytest.raises(DataFormatError, match=message) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_idx_pair_count_mismatch(tmp_path):
    write_idx_set(tmp_path, n=5)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataFormatError, match="4 labels do not match 5 images"):
        data.read_idx_pair(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte")


def test_fashion_mnist_found_under_data_dir(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    write_idx_set(folder, n=7, gz=True)
    write_idx_set(folder, n=3, prefix="t10k")
    splits = data.load("fashion-mnist", tmp_path)
    assert (len(splits.x_train), len(splits.x_test), splits.num_classes) == (7, 3, 10)


def test_missing_data_set_lists_searched_places(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path)):
        data.load("mnist", tmp_path)
    with pytest.raises(DatasetNotFoundError):
        data.load("cifar10", tmp_path)


# ----------------------------------------------------------------- CIFAR
def cifar_records(n, label_bytes, rng=np.random.default_rng(1)):
    labels = rng.integers(0, 10, (n, label_bytes), dtype=np.uint8)
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return np.concatenate([labels, pixels], axis=1), labels, pixels


def test_cifar10_and_cifar100_batches(tmp_path):
    records, labels, pixels = cifar_records(4, 1)
    (tmp_path / "b10.bin").write_bytes(records.tobytes())
    x, y = data.read_cifar_batch(tmp_path / "b10.bin", "cifar10")
    np.testing.assert_array_equal(y, labels[:, 0])
    np.testing.assert_array_equal(x[2, 1].ravel(), pixels[2, 1024:2048])   # green plane
    records, labels, _ = cifar_records(3, 2)
    (tmp_path / "b100.bin").write_bytes(records.tobytes())
    _, y = data.read_cifar_batch(tmp_path / "b100.bin", "cifar100")
    np.testing.assert_array_equal(y, labels[:, 1])                          # the fine label


def test_cifar_truncated_and_wrong_variant(tmp_path):
    records, _, _ = cifar_records(2, 1)
    (tmp_path / "cut.bin").write_bytes(records.tobytes()[:-1])
    with pytest.raises(DataFormatError, match="cut.bin.*record size 3073"):
        data.read_cifar_batch(tmp_path / "cut.bin")
    records[:, 0] = 57
    (tmp_path / "c100.bin").write_bytes(records.tobytes())
    with pytest.raises(DataFormatError, match="out of range"):
        data.read_cifar_batch(tmp_path / "c100.bin", "cifar10")


def test_cifar10_data_set_from_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(cifar_records(2, 1)[0].tobytes())
    splits = data.load("cifar10", tmp_path)
    assert splits.x_train.shape == (10, 3, 32, 32) and splits.crop_padding == 4 and splits.flip


# ------------------------------------------------------------------- npz
def test_npz_layouts_and_errors(tmp_path):
    rng = np.random.default_rng(2)
    nhwc = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "ok.npz", x_train=nhwc, y_train=np.arange(5), x_test=nhwc[:2], y_test=np.arange(2))
    x_train, y_train, _, _ = data.read_npz(tmp_path / "ok.npz")
    assert x_train.shape == (5, 3, 8, 8)
    np.testing.assert_array_equal(x_train[:, 2], nhwc[..., 2])
    splits = data.load(f"npz:{tmp_path / 'ok.npz'}")
    assert splits.num_classes == 5 and len(splits.mean) == 3

    np.savez(tmp_path / "missing.npz", x_train=nhwc, y_train=np.arange(5))
    with pytest.raises(DataFormatError, match=r"missing arrays \['x_test', 'y_test'\]"):
        data.read_npz(tmp_path / "missing.npz")
    np.savez(tmp_path / "short.npz", x_train=nhwc, y_train=np.arange(4), x_test=nhwc, y_test=np.arange(5))
    with pytest.raises(DataFormatError, match="y_train has 4 labels but the images have 5"):
        data.read_npz(tmp_path / "short.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\3\4 this is not a zip")
    with pytest.raises(DataFormatError, match="junk.npz"):
        data.read_npz(tmp_path / "junk.npz")


# ----------------------------------------------------- bundled data set
def test_bundled_subset_is_balanced_real_data():
    splits = data.load("fashion-mnist-small")
    assert splits.x_train.shape == (6000, 1, 28, 28) and splits.x_test.shape == (1000, 1, 28, 28)
    assert (np.bincount(splits.y_train) == 600).all() and (np.bincount(splits.y_test) == 100).all()
    assert data.BUNDLED.stat().st_size < 5e6
    assert 0.2 < splits.x_train.mean() / 255 < 0.4       # real images, not noise (mean 0.286)


# ---------------------------------------------------------------- loader
def make_loader(**kw):
    images = np.arange(10 * 1 * 4 * 4, dtype=np.uint8).reshape(10, 1, 4, 4)
    return DataLoader(ArrayDataset(images, np.arange(10)), 4, (0.0,), (1 / 255,), **kw)


def test_loader_batches_normalises_and_is_seeded():
    loader = make_loader(shuffle=True, seed=3)
    batches = list(loader.epoch(0))
    assert len(loader) == len(batches) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    labels = np.concatenate([b[1] for b in batches])
    assert sorted(labels) == list(range(10)) and list(labels) != list(range(10))
    x, y = batches[0]
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, np.arange(160).reshape(10, 1, 4, 4)[y].astype(np.float32))
    again = [b[1] for b in make_loader(shuffle=True, seed=3).epoch(0)]
    assert all((a == b).all() for a, b in zip(again, [b[1] for b in batches]))
    assert list(np.concatenate([b[1] for b in loader.epoch(1)])) != list(labels)


def test_loader_resumes_mid_epoch_with_the_same_batches():
    loader = make_loader(shuffle=True, seed=4, crop_padding=1, flip=True)
    full = list(loader.epoch(2))
    tail = list(loader.epoch(2, start=1))
    for (xa, ya), (xb, yb) in zip(full[1:], tail):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_random_crop_and_flip_keep_pixels():
    from dfpengine.data import transforms
    x = np.arange(2 * 1 * 3 * 3, dtype=np.uint8).reshape(2, 1, 3, 3) + 1
    rng = np.random.default_rng(0)
    crops = transforms.random_crop(x, 2, rng)
    assert crops.shape == x.shape and set(np.unique(crops)) <= set(np.unique(x)) | {0}
    flips = transforms.random_hflip(np.repeat(x[:1], 64, axis=0), rng)
    kinds = {bytes(f) for f in flips}
    assert kinds == {bytes(x[0]), bytes(x[0, :, :, ::-1].copy())}


def test_prefetcher_reraises_and_shuts_down():
    def produce(i):
        if i == 2:
            raise OSError("disk gone")
        return i
    it = data.Prefetcher(produce, range(5), depth=1)
    assert next(it) == 0 and next(it) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(it)
    before = threading.active_count()
    early = data.Prefetcher(lambda i: i, range(1000), depth=2)
    assert next(early) == 0
    early.close()
    assert threading.active_count() <= before
