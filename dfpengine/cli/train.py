"""`dfpengine train`: train a model from the zoo on a data set under a precision policy.

With no arguments it trains LeNet-5 on the bundled Fashion-MNIST subset for a
short run and prints a result table. The loop lives in `dfpengine.training`;
this module parses, prints and writes the run directory's plots.
"""
import json
import sys
import time
from pathlib import Path

from dfpengine.precision import PRESETS
from dfpengine.training import SCHEDULES, TrainConfig

from . import _args

DEFAULTS = TrainConfig()


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="train a model (default: LeNet-5 on bundled Fashion-MNIST)",
        description=__doc__.splitlines()[0])
    p.add_argument("--model", help=f"model from dfpengine.models (default {DEFAULTS.model})")
    p.add_argument("--dataset", type=_args.dataset_name,
                   help=f"fashion-mnist-small (bundled), fashion-mnist, mnist, cifar10, cifar100 "
                        f"or npz:PATH (default {DEFAULTS.dataset})")
    p.add_argument("--data-dir", help="folder holding the data set's files (searched first)")
    p.add_argument("--precision", type=_args.precision_name,
                   help=f"precision preset: {', '.join(sorted(PRESETS))} (default {DEFAULTS.precision})")
    p.add_argument("--epochs", type=_args.positive_int, help=f"default {DEFAULTS.epochs}")
    p.add_argument("--batch-size", type=_args.positive_int, help=f"default {DEFAULTS.batch_size}")
    p.add_argument("--lr", type=_args.non_negative_float, help=f"learning rate (default {DEFAULTS.lr})")
    p.add_argument("--momentum", type=_args.non_negative_float, help=f"default {DEFAULTS.momentum}")
    p.add_argument("--weight-decay", type=_args.non_negative_float, help=f"default {DEFAULTS.weight_decay}")
    p.add_argument("--schedule", choices=SCHEDULES, help=f"LR schedule per epoch (default {DEFAULTS.schedule})")
    p.add_argument("--seed", type=int, help=f"seeds initialisation, data order and augmentation (default {DEFAULTS.seed})")
    p.add_argument("--threads", type=_args.positive_int, help="native threads (default: the engine's setting)")
    p.add_argument("--max-steps", type=_args.positive_int, help="stop after this many optimizer steps")
    p.add_argument("--limit-train", type=_args.positive_int, metavar="N",
                   help="train on the first N training images only (quick trials on big data sets)")
    p.add_argument("--limit-test", type=_args.positive_int, metavar="N",
                   help="evaluate on the first N test images only")
    p.add_argument("--out", help="run directory (default runs/MODEL-DATASET-PRECISION-TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--plot", action="store_true", help="write curves.png (needs matplotlib)")
    p.add_argument("--show-precision", action="store_true",
                   help="print the format of every layer and pass, then train")
    p.add_argument("--json", action="store_true", help="no progress; last stdout line is a JSON summary")
    p.set_defaults(func=run, parser=p)


def _config(args):
    """The run's TrainConfig: defaults, then the saved config when resuming, then given options."""
    given = {k: v for k, v in vars(args).items() if v is not None and k in DEFAULTS.to_dict()}
    if args.resume:
        if not args.out:
            args.parser.error("--resume needs --out RUN_DIR")
        saved = Path(args.out) / "config.json"
        if not saved.is_file():
            raise FileNotFoundError(f"{saved}: no run to resume")
        return TrainConfig.from_dict({**TrainConfig.load(saved).to_dict(), **given})
    values = {**DEFAULTS.to_dict(), **given}
    if not values["out"]:
        slug = values["dataset"].replace(":", "-").replace("/", "_")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        values["out"] = str(Path("runs") / f"{values['model']}-{slug}-{values['precision']}-{stamp}")
    return TrainConfig.from_dict(values)


def result_table(summary):
    rows = [
        ("model", summary["model"]), ("data set", summary["dataset"]),
        ("precision", summary["precision"]),
        ("epochs", f"{summary['epochs']:g} ({summary['steps']} steps of {summary['batch_size']})"),
        ("test accuracy", f"{100 * summary['test_accuracy']:.2f}%"),
        ("test loss", f"{summary['test_loss']:.4f}"),
        ("train images/s", f"{summary['images_per_s']:.0f} on {summary['threads']} threads"),
        ("time", f"{summary['seconds']:.1f} s"), ("run directory", summary["run_dir"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def run(args):
    from dfpengine import checkpoint, model_zoo
    from dfpengine.training import Trainer, TrainingInterrupted, precision_table
    from dfpengine.training.plots import plot_runs, pyplot
    from dfpengine.training.runlog import CURVES, read_metrics
    from ._progress import ProgressObserver

    cfg = _config(args)
    if not args.resume and checkpoint.exists(cfg.out):
        raise FileExistsError(f"{cfg.out} holds a checkpoint of another run; continue it with "
                              f"--resume or choose another --out")
    if args.plot:
        pyplot()    # fail before training, not after it
    if cfg.model not in model_zoo.names():
        args.parser.error(f"unknown model {cfg.model!r}; choose from {', '.join(model_zoo.names())}")
    observer = ProgressObserver(quiet=args.json)
    trainer = Trainer(cfg, observer)
    if args.resume:
        trainer.resume()
    if args.show_precision:
        rows = precision_table.precision_rows(trainer.model, trainer.policy)
        print(precision_table.format_table(rows, cfg.precision), flush=True)
    try:
        summary = trainer.run()
    except TrainingInterrupted as exc:
        print(f"dfpengine train: {exc}", file=sys.stderr)
        return 128 + exc.signum
    finally:
        observer.close()
    if args.plot:
        summary["plot"] = str(plot_runs([(cfg.model, read_metrics(cfg.out))], Path(cfg.out) / CURVES))
    if args.json:
        print(json.dumps(summary))
    else:
        print(result_table(summary))
    return 0
