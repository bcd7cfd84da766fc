"""Shared test setup: quiet TensorFlow, and real Fashion-MNIST batches for end-to-end tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fashion_mnist_batch():
    """The first 64 (uint8 image, label) pairs of the Fashion-MNIST test split, as numpy arrays."""
    import numpy as np
    import tensorflow_datasets as tfds

    from trainers import data

    ds = data.builder("fashion_mnist").as_dataset(split="test", as_supervised=True, shuffle_files=False)
    images, labels = next(iter(tfds.as_numpy(ds.batch(64))))
    return np.asarray(images), np.asarray(labels)
