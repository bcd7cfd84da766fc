"""What every benchmark result records about where and how it was made."""

import datetime
import os
import platform
import sys

import keras
import tensorflow as tf


def provenance(module):
    """The command that reproduces this run of `module` (e.g. "benchmarks.loop_benchmark"), date and machine."""
    return {
        "benchmark_command": f"python -m {module} " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
