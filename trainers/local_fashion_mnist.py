"""Fashion-MNIST prepared by TFDS from local IDX files, for machines without internet.

Debian's `dataset-fashion-mnist` package ships the original Fashion-MNIST IDX files, but recompressed: their
`.gz` bytes differ from the upstream ones, so TFDS's `manual_dir` route fails checksum validation although
the decompressed images are the real ones. `LocalFashionMNIST` is TFDS's own `FashionMNIST` builder (same
name, version, features, splits and supervised keys) whose only change is where the examples come from. The
prepared dataset is written to the ordinary TFDS data directory, so after one preparation
`tfds.load("fashion_mnist")` works unchanged, offline.
"""

import gzip
import os

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist as tfds_mnist

#: Where Debian's `dataset-fashion-mnist` installs the files; `ZOO_FASHION_MNIST_DIR` overrides it.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def local_dir():
    """The directory searched for the IDX files."""
    return os.environ.get("ZOO_FASHION_MNIST_DIR", DEBIAN_DIR)


def _find(directory, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    return None


def local_files_available(directory=None):
    """Whether all four IDX files (plain or gzipped) are in `directory` (default: `local_dir()`)."""
    directory = directory or local_dir()
    return all(_find(directory, stem) for images, labels, _ in _FILES.values() for stem in (images, labels))


def read_idx(path, expected_magic, expected_count):
    """Reads an IDX file (optionally gzipped) into a uint8 array, checking its header.

    Args:
        path: file path; a `.gz` suffix means gzip-compressed.
        expected_magic: 2051 for images, 2049 for labels.
        expected_count: number of items the header must announce.

    Returns:
        `(count, 28, 28, 1)` uint8 images or `(count,)` uint8 labels.

    Raises:
        ValueError: the header or the size does not match a Fashion-MNIST IDX file.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big")
    if magic != expected_magic or count != expected_count:
        raise ValueError(
            f"{path} is not the expected IDX file: magic {magic} (expected {expected_magic}), "
            f"{count} items (expected {expected_count})."
        )
    if magic == _IMAGES_MAGIC:
        rows, cols = int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big")
        payload = np.frombuffer(data, np.uint8, offset=16)
        if (rows, cols) != (28, 28) or payload.size != count * rows * cols:
            raise ValueError(f"{path}: expected {count} images of 28x28, got {rows}x{cols} and {payload.size} bytes.")
        return payload.reshape(count, rows, cols, 1)
    payload = np.frombuffer(data, np.uint8, offset=8)
    if payload.size != count:
        raise ValueError(f"{path}: expected {count} labels, got {payload.size}.")
    return payload


with tfds.core.registered.skip_registration():

    class LocalFashionMNIST(tfds_mnist.FashionMNIST):
        """TFDS `fashion_mnist`, generated from local IDX files instead of downloads."""

        name = "fashion_mnist"

        def __init__(self, *, idx_dir=None, **kwargs):
            self._idx_dir = idx_dir or local_dir()
            super().__init__(**kwargs)

        def _split_generators(self, dl_manager):
            del dl_manager  # Nothing is downloaded.
            return [
                tfds.core.SplitGenerator(name=split, gen_kwargs={"split": split}) for split in _FILES
            ]

        def _generate_examples(self, split):
            images_stem, labels_stem, count = _FILES[split]
            images = read_idx(_find(self._idx_dir, images_stem), _IMAGES_MAGIC, count)
            labels = read_idx(_find(self._idx_dir, labels_stem), _LABELS_MAGIC, count)
            for index in range(count):
                yield index, {"image": images[index], "label": int(labels[index])}
