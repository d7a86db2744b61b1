"""Argument types shared by the training subcommands: each rejects bad values as usage errors (exit 2)."""
import argparse


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text}")
    return value


def dataset_name(text):
    from dfpengine.data import NAMES
    if text in NAMES[:-1] or (text.startswith("npz:") and len(text) > 4):
        return text
    raise argparse.ArgumentTypeError(f"unknown data set {text!r}; choose from {', '.join(NAMES)}")


def precision_name(text):
    from dfpengine.precision import PRESETS
    if text in PRESETS:
        return text
    raise argparse.ArgumentTypeError(f"unknown precision {text!r}; choose from {', '.join(sorted(PRESETS))}")
