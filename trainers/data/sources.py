"""TFDS preparation: a prepared builder for a dataset name, offline first, and its image shape and classes."""

import tensorflow_datasets as tfds

from trainers import local_fashion_mnist


class DataUnavailableError(RuntimeError):
    """The dataset is neither prepared locally nor downloadable from here."""


def builder(name, data_dir=None):
    """Returns a prepared TFDS builder for `name`, preparing it once if needed.

    Order: data already prepared in `data_dir` -> for `fashion_mnist`, the local IDX files -> download.

    Raises:
        DataUnavailableError: with instructions, when none of these works.
    """
    tfds_builder = tfds.builder(name, data_dir=data_dir)
    if tfds_builder.is_prepared():
        return tfds_builder
    if name == "fashion_mnist" and local_fashion_mnist.local_files_available():
        local_fashion_mnist.LocalFashionMNIST(data_dir=data_dir).download_and_prepare()
        return tfds.builder(name, data_dir=data_dir)
    try:
        tfds_builder.download_and_prepare()
    except Exception as e:  # TFDS raises many kinds of network and checksum errors.
        hint = (
            " Offline, install Debian's `dataset-fashion-mnist` package (apt-get install dataset-fashion-mnist) "
            f"or set ZOO_FASHION_MNIST_DIR to a folder with the four IDX files (looked in {local_fashion_mnist.local_dir()})."
            if name == "fashion_mnist"
            else f" Prepare it on a machine with internet (`tfds build {name}`) and copy the data directory here."
        )
        raise DataUnavailableError(
            f"Dataset {name!r} is not prepared in {tfds_builder.data_dir} and could not be downloaded "
            f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}).{hint}"
        ) from None
    return tfds_builder


def image_shape(name, data_dir=None):
    """`(height, width, channels)` of the dataset's images."""
    return tuple(builder(name, data_dir).info.features["image"].shape)


def num_classes(name, data_dir=None):
    """Number of label classes of the dataset."""
    return builder(name, data_dir).info.features["label"].num_classes
