"""`dfpengine info`: version, ISA levels (compiled, supported, selected), threads."""
import json
import os
import platform

import dfpengine
from dfpengine import _native, config


def collect():
    return {
        "version": dfpengine.__version__,
        "isa_compiled": _native.isa_compiled(),
        "isa_supported": _native.isa_supported(),
        "isa_selected": _native.isa_selected(),
        "threads": _native.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "reference_only": list(_native.REFERENCE_ONLY),
        "environment": {k: os.environ[k] for k in config.ENV_VARS if k in os.environ},
    }


def add_parser(sub):
    p = sub.add_parser("info", help="show version, ISA dispatch and threads")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args):
    info = collect()
    if args.json:
        print(json.dumps(info))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        print(f"{key:<{width}}  {value}")
    return 0
