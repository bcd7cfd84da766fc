"""The versions a result depends on, recorded in every manifest the zoo writes."""

import platform


def versions():
    """`{"python", "tensorflow", "keras", "numpy", "tensorflow_datasets", "tensorflow_probability"}` version strings.

    Example:
        >>> manifest["versions"] = versions()
    """
    import keras
    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds
    import tensorflow_probability as tfp

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "tensorflow_datasets": tfds.__version__,
        "tensorflow_probability": tfp.__version__,
    }
