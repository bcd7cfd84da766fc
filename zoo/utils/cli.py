"""What every absl main of the zoo does with its library call: one JSON line out, or one clear error line.

Used by the mains of `trainers/`, `export/` and `benchmarks/`; it lives in `zoo/` so that `export/` needs
nothing from `trainers/`.
"""

import json
import sys


def run_and_report(fn, config, errors):
    """Returns `fn(config)` after printing it as one JSON line; on one of `errors`, prints it and exits 1.

    Args:
        fn: the library function of the main (e.g. `train_lib.train_and_evaluate`).
        config: its dataclass config.
        errors: exception types that mean bad input or missing data: reported as `error: ...` on stderr,
            without a traceback, with exit status 1.

    Example:
        >>> run_and_report(export_model, ExportConfig(export_dir="models", workdir="runs/vae"), (ValueError,))
    """
    try:
        result = fn(config)
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result, sort_keys=True))
    return result
