"""The Keras version the trainers' patches of Keras internals were written and tested for.

Two places go below Keras's public API: `distribute._reduce_scalar_logs_across_workers` wraps
`keras.src.backend.tensorflow.trainer.reduce_per_replica`, and `callbacks.ResumableBackup` overrides
`BackupAndRestore._save_model` and reads its private paths and counters (`_weights_path`,
`_training_metadata_path`, `_current_epoch`, `_last_batch_seen`, `model._initial_epoch`). Private code can
change in any release without notice, so both call `check_keras_version` first: on another Keras minor
version they stop with a clear message instead of patching or relying on code that may no longer be there.
"""

import keras

#: The Keras minor version (major, minor) the patches were written for; any patch release of it is accepted.
KERAS_SERIES = (3, 15)


def check_keras_version(feature, version=None):
    """Raises a `RuntimeError` unless Keras is `KERAS_SERIES` (3.15.x).

    Args:
        feature: what relies on Keras internals, for the message (e.g. "ResumableBackup").
        version: the version string to check; default the installed `keras.__version__`.

    Example:
        >>> check_keras_version("ResumableBackup")   # passes on Keras 3.15.1
    """
    version = keras.__version__ if version is None else version
    parts = version.split(".")
    try:
        series = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        series = None
    if series != KERAS_SERIES:
        expected = ".".join(map(str, KERAS_SERIES))
        raise RuntimeError(
            f"{feature} patches private internals of Keras {expected}.x (see trainers/keras_internals.py); found "
            f"Keras {version}. Install keras=={expected}.* or check those internals in Keras {version} and update "
            "the patch and `KERAS_SERIES`."
        )
