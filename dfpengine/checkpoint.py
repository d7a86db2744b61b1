"""Checkpoints: a directory with `model.safetensors`, `state.npz` and `state.json`.

- `model.safetensors`: the model's state dict, written with safetensors' numpy
  API under the module's dotted names, so `safetensors.torch.load_file` gives a
  dict PyTorch's `load_state_dict` accepts.
- `state.npz`: every array of the remaining state (optimizer buffers, ...).
- `state.json`: the remaining state's structure, with arrays replaced by
  references into `state.npz`, plus the SHA-256 of the two other files.

Each file is written atomically (temporary file, fsync, rename, fsync of the
directory), `state.json` last: a crash leaves either the old checkpoint or a
set whose hashes do not match, which `load` reports instead of loading.
"""
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

WEIGHTS, ARRAYS, STATE = "model.safetensors", "state.npz", "state.json"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete, inconsistent or unreadable."""


def as_array(value):
    """The numpy array behind an ndarray or a tensor (anything with .numpy()), else None."""
    if isinstance(value, np.ndarray):
        return value
    to_numpy = getattr(value, "numpy", None)
    return np.asarray(to_numpy()) if callable(to_numpy) else None


def atomic_write(path, data):
    """Replace `path` with `data` (bytes) so readers see the old or the new file, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# single-key objects that stand for an array, a tuple or a dict with non-string keys
_MARKERS = ("__array__", "__tuple__", "__dict__")


def _encode(value, arrays):
    """JSON-able structure with arrays moved into `arrays`; dict keys and tuples keep their type."""
    array = as_array(value)
    if array is not None:
        key = f"a{len(arrays)}"
        arrays[key] = array
        return {"__array__": key}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not _is_marker(value):
            return {k: _encode(v, arrays) for k, v in value.items()}
        return {"__dict__": [[k, _encode(v, arrays)] for k, v in value.items()]}   # int keys
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_marker(value):
    return len(value) == 1 and next(iter(value)) in _MARKERS


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if not _is_marker(value):
        return {k: _decode(v, arrays) for k, v in value.items()}
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    return {k: _decode(v, arrays) for k, v in value["__dict__"]}


def save(directory, weights, state):
    """Write `weights` ({name: array}) and `state` (nested dicts/lists of JSON values and arrays)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # np.require keeps 0-d arrays 0-d (num_batches_tracked), unlike np.ascontiguousarray
    tensors = {name: np.require(as_array(v), requirements="C") for name, v in weights.items()}
    weights_bytes = st_save(tensors, metadata={"format": "pt"})
    arrays = {}
    structure = _encode(state, arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    arrays_bytes = buffer.getvalue()
    atomic_write(directory / WEIGHTS, weights_bytes)
    atomic_write(directory / ARRAYS, arrays_bytes)
    manifest = {
        "format_version": FORMAT_VERSION,
        "sha256": {WEIGHTS: hashlib.sha256(weights_bytes).hexdigest(),
                   ARRAYS: hashlib.sha256(arrays_bytes).hexdigest()},
        "state": structure,
    }
    atomic_write(directory / STATE, json.dumps(manifest, indent=1).encode())


def exists(directory):
    return (Path(directory) / STATE).is_file()


def _read_checked(path, expected_sha):
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing from checkpoint") from None
    if hashlib.sha256(data).hexdigest() != expected_sha:
        raise CheckpointError(f"{path}: content does not match state.json (incomplete or mixed checkpoint)")
    return data


def load(directory):
    """Return (weights {name: array}, state) as given to `save`; arrays come back as numpy."""
    directory = Path(directory)
    manifest_path = directory / STATE
    if not manifest_path.is_file():
        raise CheckpointError(f"{directory}: not a checkpoint (no {STATE})")
    try:
        manifest = json.loads(manifest_path.read_text())
        hashes, structure = manifest["sha256"], manifest["state"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{manifest_path}: unreadable ({exc})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{manifest_path}: unsupported format_version {manifest.get('format_version')}")
    weights = st_load(_read_checked(directory / WEIGHTS, hashes[WEIGHTS]))
    with np.load(io.BytesIO(_read_checked(directory / ARRAYS, hashes[ARRAYS])), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return weights, _decode(structure, arrays)
