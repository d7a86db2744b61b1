"""DFP16 integer GEMM vs FP32 SGEMM on the issue's shapes; JSON lines on stdout.

    python bench/gemm.py [--threads 1 2] [--repeats 5] [--vnni-peak GOPS_PER_CORE] [--shape M N K]
Same as `dfpengine bench gemm --json`."""
import sys

from dfpengine.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "gemm", "--json"] + sys.argv[1:]))
