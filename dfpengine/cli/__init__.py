"""`dfpengine` command line: one module per subcommand.

Each subcommand module defines `add_parser(subparsers)` (which registers its
arguments and sets `func=run`) and `run(args) -> int`. Exit codes: 0 success,
2 usage error (argparse), 1 failure with a one-line reason on stderr.
"""
import argparse
import importlib
import os
import sys

SUBCOMMANDS = ("train", "eval", "report", "bench", "profile", "info")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dfpengine", description="CPU-native low-precision CNN training engine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"dfpengine.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"dfpengine.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # bare `dfpengine` trains the default small model: the product's main command
        args = parser.parse_args(["train"] + list(argv or sys.argv[1:]))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("dfpengine: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        return _fail(args.command, str(exc))
    except Exception as exc:            # a bug, not bad input: still one line, type named
        if os.environ.get("DFPENGINE_TRACEBACK"):
            raise
        return _fail(args.command, f"internal error: {type(exc).__name__}: {exc} "
                                   f"(set DFPENGINE_TRACEBACK=1 for the traceback)")


def _fail(command, reason):
    """Exit status 1 with the reason on one stderr line, whatever the message's newlines."""
    reason = "; ".join(line.strip() for line in reason.splitlines() if line.strip()) or "failed"
    print(f"dfpengine {command}: error: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
