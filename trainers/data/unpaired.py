"""Unpaired image translation data: batches `(images_a, images_b)` of two domains, each shuffled on its own."""

import os
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from trainers.data import records
from trainers.data.preprocessing import Preprocessing
from trainers.data.sources import builder

#: The default domains (A, B) of unpaired translation for datasets with class labels: sneaker -> ankle boot.
DEFAULT_DOMAINS = {"fashion_mnist": (7, 9)}


def _is_cycle_gan(name):
    return name.split("/")[0] == "cycle_gan"


def resolve_domains(name, domains=None, data_dir=None):
    """The class indices `(a, b)` of two domains of a labelled dataset, or None for a TFDS `cycle_gan/*` dataset.

    Args:
        name: TFDS name.
        domains: two classes, each an index or a class name ("sneaker", "Ankle boot", "ankle_boot", "7");
            None takes `DEFAULT_DOMAINS[name]`. Must be None for `cycle_gan/*`, whose splits are the domains.

    Raises:
        ValueError: not two distinct classes of the dataset, or domains given for `cycle_gan/*`.
    """
    if _is_cycle_gan(name):
        if domains is not None:
            raise ValueError(f"`domains` must be None for {name!r}: its splits trainA/trainB (testA/testB) are the domains.")
        return None
    if domains is None:
        if name not in DEFAULT_DOMAINS:
            raise ValueError(f"`domains` must name two classes of {name!r} (index or name), e.g. domains=(0, 1).")
        domains = DEFAULT_DOMAINS[name]
    if isinstance(domains, str) or not isinstance(domains, (tuple, list)) or len(domains) != 2:
        raise ValueError(f"`domains` must be two classes (A, B); got {domains!r}.")
    labels = builder(name, data_dir).info.features["label"]
    names = [n.lower().replace("_", " ") for n in labels.names]
    resolved = []
    for value in domains:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, str) and value.strip().lower().replace("_", " ") in names:
            value = names.index(value.strip().lower().replace("_", " "))
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < labels.num_classes:
            raise ValueError(
                f"`domains` entries must be class indices in [0, {labels.num_classes - 1}] or names of {name!r} "
                f"({', '.join(labels.names)}); got {value!r}."
            )
        resolved.append(int(value))
    if resolved[0] == resolved[1]:
        raise ValueError(f"`domains` must be two different classes; got {domains!r}.")
    return tuple(resolved)


_CLASS_COUNTS = {}


def _domain_sizes(tfds_builder, name, split, classes):
    """Images in each of the two domains of `split`, or None when the labels cannot be counted cheaply.

    Reads only the labels of the split's TFRecord files (about a second for Fashion-MNIST's 60,000, once per
    process), so the unpaired dataset declares its length: Keras then shows progress and `evaluate` ends
    without warning that its input "ran out of data".
    """
    info = tfds_builder.info
    if classes is None:
        return tuple(info.splits[f"{split}{domain}"].num_examples for domain in "AB")
    key = (os.fspath(tfds_builder.data_dir), split)
    if key not in _CLASS_COUNTS:
        if info.file_format not in (None, tfds.core.FileFormat.TFRECORD):
            return None
        files = records.record_files(info, split)
        serialized = files.flat_map(lambda path, skip, count: tf.data.TFRecordDataset(path).skip(skip).take(count))
        spec = {"label": tf.io.FixedLenFeature([], tf.int64)}
        labels = serialized.batch(8192).map(lambda batch: tf.io.parse_example(batch, spec)["label"])
        _CLASS_COUNTS[key] = np.bincount(np.concatenate([x.numpy() for x in labels]), minlength=info.features["label"].num_classes)
    return tuple(int(_CLASS_COUNTS[key][c]) for c in classes)


def _domain_examples(tfds_builder, name, split, domain, domain_class, take, image_size):
    """uint8 images of one domain of `split`, in the split's order, cached after decoding (and resizing)."""
    if _is_cycle_gan(name):
        if split not in ("train", "test"):
            raise ValueError(f"`split` must be 'train' or 'test' for {name!r} (read as {split}A and {split}B); got {split!r}.")
        images = tfds_builder.as_dataset(split=f"{split}{domain}", as_supervised=True, shuffle_files=False).map(
            lambda image, label: image
        )
        if take is not None:
            images = images.take(take)
    else:
        all_images, labels = records.decoded_split(tfds_builder, split)
        images = tf.data.Dataset.from_tensor_slices(all_images[labels == domain_class][:take])
    if image_size is not None:
        channels = tfds_builder.info.features["image"].shape[-1]

        def resize(image):
            resized = tf.image.resize(image, [image_size, image_size], antialias=True)
            return tf.ensure_shape(tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8), [image_size, image_size, channels])

        images = images.map(resize, num_parallel_calls=tf.data.AUTOTUNE)
    return images.cache()


def _check_arguments(preprocessing, batch_size, image_size, take):
    if not isinstance(preprocessing, Preprocessing):
        raise TypeError(f"`preprocessing` must be a trainers.data.Preprocessing; got {type(preprocessing).__name__}.")
    if preprocessing.stochastic:
        raise ValueError("`preprocessing` must be deterministic for unpaired batches (no stochastic binarization).")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size!r}.")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise ValueError(f"`image_size` must be a positive int or None; got {image_size!r}.")
    if take is not None and (isinstance(take, bool) or not isinstance(take, int) or take < 1):
        raise ValueError(f"`take` must be a positive int or None; got {take!r}.")


def _num_batches(sizes, take, batch_size, drop, split):
    """Batches of an epoch: the smaller domain's images (after `take`) in batches; an error when there are none."""
    smaller = min(min(size, take or size) for size in sizes)
    num_batches = smaller // batch_size if drop else -(-smaller // batch_size)
    if num_batches == 0:
        raise ValueError(
            f"`batch_size`={batch_size} is more than the {smaller} images of the smaller domain of {split!r} "
            "(after `take`): no full batch."
        )
    return num_batches


def load_unpaired(
    name,
    split,
    preprocessing,
    *,
    batch_size,
    domains=None,
    image_size=None,
    seed=0,
    shuffle=True,
    drop_remainder=None,
    take: Optional[int] = None,
    data_dir=None,
):
    """Batches `(images_a, images_b)` of unpaired images of two domains, as many of each, for image translation.

    Domains come from one of two kinds of TFDS datasets:
    - `cycle_gan/*` (e.g. "cycle_gan/horse2zebra", online): its splits, trainA/trainB for `split="train"`,
      testA/testB for "test". Its images vary in size: pass `image_size`.
    - any dataset with class labels (offline: "fashion_mnist"): two classes, `domains=(a, b)`; the default for
      Fashion-MNIST is (7, 9), sneaker -> ankle boot.

    Each domain is shuffled on its own (nothing pairs an image of A with one of B), so an epoch ends with the
    smaller domain; when the last batches of the two domains differ in size, the larger is cut to the smaller.

    Args:
        name: TFDS name.
        split: split string for labelled datasets ("train", "test", "train[:10%]"); "train" or "test" for cycle_gan.
        preprocessing: a `Preprocessing` (CycleGAN: `Preprocessing("symmetric")`).
        batch_size: images of each domain per batch.
        domains: two classes (indices or names) for labelled datasets; see `resolve_domains`.
        image_size: resize every image to `image_size x image_size` (None keeps the dataset's size).
        seed: seed of the two shuffles.
        shuffle: reshuffle every epoch (training); False keeps each domain's order (evaluation).
        drop_remainder: drop partial batches; default True when shuffling, False otherwise.
        take: keep only the first `take` images of each domain.
        data_dir: TFDS data directory.

    Returns:
        A `tf.data.Dataset` of `(images_a, images_b)` batches.

    Raises:
        ValueError: bad domains, split or sizes; a dataset whose images vary in size without `image_size`.
    """
    _check_arguments(preprocessing, batch_size, image_size, take)
    classes = resolve_domains(name, domains, data_dir)
    tfds_builder = builder(name, data_dir)
    if image_size is None and None in tfds_builder.info.features["image"].shape[:2]:
        raise ValueError(f"The images of {name!r} vary in size: pass `image_size` (e.g. 64 on a CPU, 256 as in the paper).")
    drop = shuffle if drop_remainder is None else drop_remainder
    sizes = _domain_sizes(tfds_builder, name, split, classes)
    num_batches = None if sizes is None else _num_batches(sizes, take, batch_size, drop, split)

    def batches(domain, domain_class, domain_seed):
        images = _domain_examples(tfds_builder, name, split, domain, domain_class, take, image_size)
        if shuffle:
            images = images.shuffle(min(take or 60000, 60000), seed=domain_seed, reshuffle_each_iteration=True)
        return images.batch(batch_size, drop_remainder=drop)

    a = batches("A", classes[0] if classes else None, seed)
    b = batches("B", classes[1] if classes else None, seed + 1)

    def preprocess(images_a, images_b):
        return preprocessing(images_a), preprocessing(images_b)

    def cut_and_preprocess(images_a, images_b):
        size = tf.minimum(tf.shape(images_a)[0], tf.shape(images_b)[0])
        return preprocessing(images_a[:size]), preprocessing(images_b[:size])

    # With dropped remainders both batches are full, and the static batch size stays known.
    pairs = tf.data.Dataset.zip(a, b).map(preprocess if drop else cut_and_preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    if num_batches is not None:
        pairs = pairs.apply(tf.data.experimental.assert_cardinality(num_batches))
    return pairs.prefetch(tf.data.AUTOTUNE)
