"""`dfpengine eval`: test-set loss and accuracy of a saved checkpoint.

The checkpoint's run settings (model, data set, seed) rebuild the model; the
data set, data folder, precision and batch size can be overridden.
"""
import json
from pathlib import Path

from . import _args


def add_parser(subparsers):
    p = subparsers.add_parser("eval", help="evaluate a checkpoint on its test set",
                              description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True,
                   help="a run directory or its checkpoint/ folder")
    p.add_argument("--dataset", type=_args.dataset_name, help="default: the run's data set")
    p.add_argument("--data-dir", help="folder holding the data set's files")
    p.add_argument("--precision", type=_args.precision_name, help="default: the run's precision")
    p.add_argument("--batch-size", type=_args.positive_int, help="default 256")
    p.add_argument("--json", action="store_true", help="last stdout line is a JSON result")
    p.set_defaults(func=run, parser=p)


def _checkpoint_dir(path):
    path = Path(path)
    return path / "checkpoint" if (path / "checkpoint").is_dir() else path


def run(args):
    from dfpengine.training.evaluate_checkpoint import evaluate_checkpoint

    overrides = {k: getattr(args, k) for k in ("dataset", "data_dir", "precision", "batch_size")
                 if getattr(args, k) is not None}
    result = evaluate_checkpoint(_checkpoint_dir(args.checkpoint), **overrides)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']} on {result['dataset']} ({result['precision']}, step {result['step']}): "
              f"test accuracy {100 * result['test_accuracy']:.2f}%, loss {result['test_loss']:.4f}, "
              f"{result['images_per_s']:.0f} img/s")
    return 0
