"""Input pipelines: any TFDS image dataset as batched `tf.data`, preprocessed the way each family needs.

Example:
    >>> from trainers import data
    >>> prep = data.Preprocessing(kind="levels", num_levels=2)  # binarized, for a VAE or a PixelCNN
    >>> ds = data.load("fashion_mnist", "train", prep, batch_size=64, seed=0)
    >>> images = next(iter(ds))  # int32, shape (64, 28, 28, 1), values in {0, 1}

Offline, `fashion_mnist` is prepared once from Debian's `dataset-fashion-mnist` files (see
`trainers.local_fashion_mnist`) into the ordinary TFDS data directory; every other dataset, or any dataset
already prepared, goes through plain `tfds`.
"""

import dataclasses
from typing import Optional, Tuple

import tensorflow as tf
import tensorflow_datasets as tfds

from trainers import local_fashion_mnist
from zoo import ops


class DataUnavailableError(RuntimeError):
    """The dataset is neither prepared locally nor downloadable from here."""


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How raw uint8 images become model inputs.

    Args:
        kind: "levels" (int32 in [0, num_levels - 1]; autoregressive models and VAEs), "unit" (float32 in
            [0, 1]) or "symmetric" (float32 in [-1, 1]; GANs).
        num_levels: quantisation levels for "levels", 2 to 256. Level `floor(x * num_levels / 256)` of a
            pixel `x` in 0..255, so 2 levels is a binarization at the fixed threshold 0.5.
        binarize: with `num_levels=2`, "fixed" (threshold 0.5) or "stochastic" (each pixel is 1 with
            probability x / 255, drawn anew every epoch; the dynamic binarization of the VAE literature).
    """

    kind: str = "unit"
    num_levels: int = 256
    binarize: str = "fixed"

    def __post_init__(self):
        if self.kind not in ops.IMAGE_KINDS:
            raise ValueError(f"`kind` must be one of {ops.IMAGE_KINDS}; got {self.kind!r}.")
        if not isinstance(self.num_levels, int) or not 2 <= self.num_levels <= 256:
            raise ValueError(f"`num_levels` must be an int in [2, 256]; got {self.num_levels!r}.")
        if self.binarize not in ("fixed", "stochastic"):
            raise ValueError(f"`binarize` must be 'fixed' or 'stochastic'; got {self.binarize!r}.")
        if self.binarize == "stochastic" and not (self.kind == "levels" and self.num_levels == 2):
            raise ValueError("`binarize='stochastic'` needs kind='levels' with num_levels=2.")

    @property
    def stochastic(self):
        return self.binarize == "stochastic"

    def __call__(self, image, seed=None):
        """Maps one uint8 image (or batch) to the model representation; `seed` only for stochastic binarization."""
        x = tf.cast(image, tf.float32)
        if self.kind == "unit":
            return x / 255.0
        if self.kind == "symmetric":
            return x / 127.5 - 1.0
        if self.stochastic:
            return tf.cast(tf.random.stateless_uniform(tf.shape(x), seed) * 255.0 < x, tf.int32)
        return tf.cast(tf.math.floor(x * self.num_levels / 256.0), tf.int32)

    def to_unit(self, images):
        """Maps model-representation images back to floats in [0, 1] for display."""
        x = tf.cast(images, tf.float32)
        if self.kind == "unit":
            return x
        if self.kind == "symmetric":
            return (x + 1.0) / 2.0
        return x / float(self.num_levels - 1)


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


def load(
    name,
    split,
    preprocessing,
    *,
    batch_size,
    seed=0,
    shuffle=True,
    with_labels=False,
    drop_remainder=None,
    take: Optional[int] = None,
    cache=True,
    data_dir=None,
):
    """A batched, preprocessed, prefetched `tf.data.Dataset` from a TFDS image dataset.

    Args:
        name: TFDS name, e.g. "fashion_mnist", "mnist", "cifar10".
        split: TFDS split string, e.g. "train", "test", "train[:10%]".
        preprocessing: a `Preprocessing`.
        batch_size: examples per batch.
        seed: seed of the shuffle order and of stochastic binarization; the same seed gives the same batches.
        shuffle: reshuffle every epoch (training); False keeps the split's order (evaluation).
        with_labels: yield `(images, labels)` instead of `images`.
        drop_remainder: drop the last partial batch; default: True when shuffling (static batch shapes for
            training), False otherwise (evaluation sees every example).
        take: keep only the first `take` examples of the split (before shuffling), for quick runs.
        cache: keep decoded images in memory after the first epoch (Fashion-MNIST is 47 MB).
        data_dir: TFDS data directory (default: TFDS's own, `~/tensorflow_datasets` or `$TFDS_DATA_DIR`).

    Returns:
        A `tf.data.Dataset` of `images` or `(images, labels)` batches.
    """
    if not isinstance(preprocessing, Preprocessing):
        raise TypeError(f"`preprocessing` must be a trainers.data.Preprocessing; got {type(preprocessing).__name__}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size!r}.")
    tfds_builder = builder(name, data_dir)
    ds = tfds_builder.as_dataset(
        split=split, as_supervised=True, shuffle_files=False, read_config=tfds.ReadConfig(shuffle_seed=seed)
    )
    if take is not None:
        ds = ds.take(take)
    if cache:
        ds = ds.cache()
    if shuffle:
        # The whole split up to 60,000 examples: a full shuffle of (Fashion-)MNIST and CIFAR.
        buffer = min(tfds_builder.info.splits[split].num_examples, take or 60000, 60000)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    drop = shuffle if drop_remainder is None else drop_remainder
    if preprocessing.stochastic:
        # One stateless seed per example keeps the draw deterministic under parallel map, and new each epoch.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda pair, s: (preprocessing(pair[0], seed=s), pair[1]), num_parallel_calls=tf.data.AUTOTUNE
        )
        ds = ds.batch(batch_size, drop_remainder=drop)
        if not with_labels:
            ds = ds.map(lambda x, y: x)
    else:
        # Preprocessing is elementwise, so it runs on whole batches: ten times the throughput of a per-image map.
        ds = ds.batch(batch_size, drop_remainder=drop).map(
            (lambda x, y: (preprocessing(x), y)) if with_labels else (lambda x, y: preprocessing(x)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)



def split_size(name, split, data_dir=None, take=None) -> int:
    """Number of examples in a split (after `take`)."""
    num = builder(name, data_dir).info.splits[split].num_examples
    return min(num, take) if take else num


def example_batch(name, split, preprocessing, batch_size, data_dir=None) -> Tuple[tf.Tensor, tf.Tensor]:
    """The first `batch_size` (images, labels) of a split, unshuffled: fixed images for grids and tests."""
    ds = load(name, split, preprocessing, batch_size=batch_size, shuffle=False, with_labels=True, data_dir=data_dir)
    return next(iter(ds))
