"""The model zoo `dfpengine.models`, importable from an installed package or a source checkout.

Installed, the top-level folder `models/` is the package `dfpengine.models`. In a
source checkout (installed editable or not), this module loads `models/` from
beside `dfpengine/` under that same name, so imports and pickled names agree.
"""
import importlib
import importlib.util
import sys
from pathlib import Path

NAME = "dfpengine.models"


def package():
    if NAME in sys.modules:
        return sys.modules[NAME]
    folder = Path(__file__).resolve().parents[1] / "models"
    if not (folder.parent / "setup.py").exists():  # installed: the package proper
        return importlib.import_module(NAME)
    # A source checkout loads its own models/, even when an editable install maps the name to
    # another checkout's (a git worktree beside the installed one would test the wrong models).
    spec = importlib.util.spec_from_file_location(
        NAME, folder / "__init__.py", submodule_search_locations=[str(folder)])
    if spec is None:
        raise ModuleNotFoundError(f"{NAME} is not installed and {folder} does not exist", name=NAME)
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[NAME]
        raise
    return module


def create(name, num_classes, in_channels, image_size):
    return package().create(name, num_classes, in_channels, image_size)


def names():
    return tuple(package().MODELS)
