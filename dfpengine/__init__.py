"""dfpengine: CPU-native CNN training in FP32, DFP16 and emulated FP8/HBFP."""
__version__ = "0.1.0"

from dfpengine._native import get_num_threads, set_num_threads  # noqa: E402
