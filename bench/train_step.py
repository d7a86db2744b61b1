"""Training-step images/s of dfpengine (fp32, dfp16) and PyTorch (FP32 NCHW and
channels_last, bfloat16 autocast) on the same models and batch; JSON lines.

    python bench/train_step.py --threads 1 2 --repeats 5
(the same as `dfpengine bench train --json ...`)"""
import sys

from dfpengine.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "train", "--json"] + sys.argv[1:]))
