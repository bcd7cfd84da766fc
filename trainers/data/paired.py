"""`load`: a TFDS split as batched, preprocessed, shuffled `tf.data` of images (and labels)."""

from typing import Optional, Tuple

import tensorflow as tf

from trainers.data import records
from trainers.data.preprocessing import Preprocessing
from trainers.data.sources import builder


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

    The split is decoded once and kept (see `trainers.data.records`): every epoch, the first of a new pipeline
    included, shuffles and preprocesses decoded uint8 images held in memory.

    Args:
        name: TFDS name, e.g. "fashion_mnist", "mnist", "cifar10".
        split: TFDS split string, e.g. "train", "test", "train[:10%]".
        preprocessing: a `Preprocessing`.
        batch_size: examples per batch.
        seed: seed of the shuffle order and of stochastic binarization; the same seed gives the same batches, and
            the same sequence of epochs when the dataset is repeated (which is how a resumed run replays it).
        shuffle: reshuffle every epoch (training); False keeps the split's order (evaluation).
        with_labels: yield `(images, labels)` instead of `images`.
        drop_remainder: drop the last partial batch; default: True when shuffling (static batch shapes for
            training), False otherwise (evaluation sees every example).
        take: keep only the first `take` examples of the split (before shuffling), for quick runs.
        cache: keep the decoded split for later pipelines, in this process and on disk beside the TFDS data
            (Fashion-MNIST: 47 MB); False decodes it for this pipeline only.
        data_dir: TFDS data directory (default: TFDS's own, `~/tensorflow_datasets` or `$TFDS_DATA_DIR`).

    Returns:
        A `tf.data.Dataset` of `images` or `(images, labels)` batches.
    """
    if not isinstance(preprocessing, Preprocessing):
        raise TypeError(f"`preprocessing` must be a trainers.data.Preprocessing; got {type(preprocessing).__name__}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size!r}.")
    images, labels = records.decoded_split(builder(name, data_dir), split, take=take, keep=cache)
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        # The whole split up to 60,000 examples: a full shuffle of (Fashion-)MNIST and CIFAR.
        ds = ds.shuffle(min(len(images), 60000), seed=seed, reshuffle_each_iteration=True)
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
        # Named functions: AutoGraph cannot find the source of two lambdas on one line and warned on every load.
        def images_and_labels(images, labels):
            return preprocessing(images), labels

        def images_only(images, labels):
            return preprocessing(images)

        ds = ds.batch(batch_size, drop_remainder=drop).map(
            images_and_labels if with_labels else images_only, num_parallel_calls=tf.data.AUTOTUNE
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
