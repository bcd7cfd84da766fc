"""`load`: a TFDS split as batched, preprocessed, shuffled `tf.data` of images (and labels)."""

from typing import Optional, Tuple

import numpy as np
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
    group=1,
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
        group: images per example: with `group=k > 1` a batch holds `batch_size` rows of k different images,
            `(batch_size, k, H, W, C)` (labels `(batch_size, k)`), for a GAN whose k discriminator steps each
            take a fresh real minibatch (`GAN(fresh_real_batches=True)`). Needs whole batches (drop_remainder).

    Returns:
        A `tf.data.Dataset` of `images` or `(images, labels)` batches.
    """
    if not isinstance(preprocessing, Preprocessing):
        raise TypeError(f"`preprocessing` must be a trainers.data.Preprocessing; got {type(preprocessing).__name__}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size!r}.")
    if isinstance(group, bool) or not isinstance(group, int) or group < 1:
        raise ValueError(f"`group` must be a positive int (images per example); got {group!r}.")
    if group > 1:
        if drop_remainder is False or (drop_remainder is None and not shuffle):
            raise ValueError("`group` > 1 needs whole batches: load with shuffle=True or drop_remainder=True.")
        flat = load(name, split, preprocessing, batch_size=batch_size * group, seed=seed, shuffle=shuffle,
                    with_labels=with_labels, drop_remainder=True, take=take, cache=cache, data_dir=data_dir)
        return _rows_of(flat, batch_size, group, with_labels)
    images, labels = records.decoded_split(builder(name, data_dir), split, take=take, keep=cache)
    drop = shuffle if drop_remainder is None else drop_remainder
    indices = _batch_indices(int(images.shape[0]), batch_size, seed, shuffle, drop)
    return _batches(tf.constant(images), tf.constant(labels), indices, preprocessing, seed, with_labels)


def _rows_of(flat, batch_size, group, with_labels):
    """Batches of `batch_size * group` examples as `(batch_size, group, ...)` rows."""

    def rows_of_k(*xs):
        rows = tuple(tf.reshape(x, [batch_size, group] + x.shape[1:].as_list()) for x in xs)
        return rows if with_labels else rows[0]

    return flat.map(rows_of_k)


def _batches(images, labels, indices, preprocessing, seed, with_labels):
    """Preprocessed, prefetched batches gathered from the decoded `images` (and `labels`) at `indices`."""
    if preprocessing.stochastic:
        # One stateless seed per batch, new every epoch: the draw stays deterministic under parallel map.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def binarized(batch, batch_seed):
            return preprocessing(tf.gather(images, batch), seed=tf.stack([batch_seed, 1])), tf.gather(labels, batch)

        ds = tf.data.Dataset.zip(indices, seeds).map(binarized, num_parallel_calls=tf.data.AUTOTUNE)
        if not with_labels:
            ds = ds.map(lambda x, y: x)
    else:
        # Preprocessing is elementwise, so it runs on whole batches: ten times the throughput of a per-image map.
        # Named functions: AutoGraph cannot find the source of two lambdas on one line and warned on every load.
        def images_and_labels(batch):
            return preprocessing(tf.gather(images, batch)), tf.gather(labels, batch)

        def images_only(batch):
            return preprocessing(tf.gather(images, batch))

        ds = indices.map(images_and_labels if with_labels else images_only, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _batch_indices(count, batch_size, seed, shuffle, drop):
    """The example indices of every batch of an epoch, `(batch_size,)` int64 each.

    Shuffled: a fresh permutation of all `count` examples every epoch (every iteration of the dataset), drawn
    in one op from a stateless seed that `Dataset.random(seed)` gives the epoch, and cut into batches. Batches
    of indices, not examples, go through `tf.data`, and images are gathered a batch at a time: per-example
    `tf.data` work (a shuffle buffer of 60,000 examples) cost a new pipeline's first epoch three times what the
    gathers and preprocessing of a whole epoch cost (measured on 2 cores, Fashion-MNIST).
    """
    num_batches = count // batch_size if drop else -(-count // batch_size)
    if not shuffle:
        starts = tf.data.Dataset.range(0, num_batches * batch_size, batch_size)
        return starts.map(lambda start: tf.range(start, tf.minimum(start + batch_size, count)))

    def epoch_batches(epoch_seed):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([epoch_seed, tf.constant(0, tf.int64)])
        )
        if drop:
            return tf.data.Dataset.from_tensor_slices(tf.reshape(order[: num_batches * batch_size], [num_batches, batch_size]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    epochs = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    return epochs.flat_map(epoch_batches).apply(tf.data.experimental.assert_cardinality(num_batches))


def unit_images(name, split, preprocessing, count, data_dir=None):
    """The first `count` images of a split in the model's representation, mapped to floats in [0, 1].

    Real images for sample-quality scores: they pass through the model's own preprocessing first, so a
    binarized model is compared with binarized real images.

    Raises:
        ValueError: the split holds fewer than `count` images.
    """
    ds = load(name, split, preprocessing, batch_size=1000, shuffle=False, take=count, data_dir=data_dir)
    images = np.concatenate([preprocessing.to_unit(x).numpy() for x in ds])
    if images.shape[0] < count:
        raise ValueError(f"`num_samples`={count} is more than the {images.shape[0]} images of split {split!r}.")
    return images


def split_size(name, split, data_dir=None, take=None) -> int:
    """Number of examples in a split (after `take`)."""
    num = builder(name, data_dir).info.splits[split].num_examples
    return min(num, take) if take else num


def example_batch(name, split, preprocessing, batch_size, data_dir=None) -> Tuple[tf.Tensor, tf.Tensor]:
    """The first `batch_size` (images, labels) of a split, unshuffled: fixed images for grids and tests."""
    ds = load(name, split, preprocessing, batch_size=batch_size, shuffle=False, with_labels=True, data_dir=data_dir)
    return next(iter(ds))
