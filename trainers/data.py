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
import os
from typing import Optional, Tuple

import numpy as np
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


# Records parsed and decoded per `tf.io.parse_example` call. Sizes from 256 to 4096 decode Fashion-MNIST equally
# fast; a small one keeps unshuffled reads (`example_batch`) from decoding far ahead of what they use.
_DECODE_CHUNK = 256
# `tfds.ReadConfig`'s defaults for interleaving a split's files (`tensorflow_datasets/core/reader.py`).
_TFDS_CYCLE_LENGTH, _TFDS_BLOCK_LENGTH = 16, 16


def _example_spec(serialized_info):
    """The `tf.io.parse_example` spec of a feature stored as one fixed-shape tensor, or None if it is not."""
    if not isinstance(serialized_info, tfds.features.TensorInfo) or serialized_info.sequence_rank:
        return None
    if None in serialized_info.shape:
        return None
    dtype = serialized_info.tf_dtype
    if dtype.is_integer or dtype.is_bool:
        dtype = tf.int64  # tf.train.Example holds only int64, float32 and bytes; TFDS casts back after parsing.
    elif dtype.is_floating:
        dtype = tf.float32
    elif dtype != tf.string:
        return None
    return tf.io.FixedLenFeature(serialized_info.shape, dtype, default_value=serialized_info.default_value)


def _supervised_examples(tfds_builder, split, *, take=None, cache=True):
    """`(image, label)` examples of `split`, in the order `as_dataset(split, shuffle_files=False)` yields them.

    TFDS parses and decodes one example per map call (`tf.io.parse_single_example`, then the PNG decode); that
    per-example work bounds the first epoch, before the cache. Here the split's TFRecord files are read in TFDS's
    own order (its default interleave over the split's file instructions), parsed `_DECODE_CHUNK` records at a
    time with `tf.io.parse_example`, and decoded with each feature's own `decode_batch_example`: the same
    tensors for about half the CPU time (Fashion-MNIST: ~30 instead of ~70 us per image on 2 cores, nearly all
    of it now in the PNG decoder). A dataset in another file format, or whose supervised features are not
    fixed-shape tensors when serialized, is read through `as_dataset` instead.
    """
    info = tfds_builder.info
    keys = info.supervised_keys
    serialized = (
        {key: info.features[key].get_serialized_info() for key in keys}
        if isinstance(keys, tuple) and all(isinstance(key, str) for key in keys)
        else {}
    )
    specs = {key: _example_spec(value) for key, value in serialized.items()}
    if info.file_format not in (None, tfds.core.FileFormat.TFRECORD) or not specs or None in specs.values():
        ds = tfds_builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        ds = ds.take(take) if take is not None else ds
        return ds.cache() if cache else ds

    instructions = info.splits[split].file_instructions
    files = tf.data.Dataset.from_tensor_slices((
        [os.fspath(i.filename) for i in instructions],
        np.array([i.skip for i in instructions], np.int64),
        np.array([i.take for i in instructions], np.int64),
    ))
    records = files.interleave(
        lambda path, skip, count: tf.data.TFRecordDataset(path).skip(skip).take(count),
        cycle_length=1 if info.disable_shuffling else _TFDS_CYCLE_LENGTH,
        block_length=_TFDS_BLOCK_LENGTH,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if take is not None:
        records = records.take(take)

    def parse_and_decode(batch):
        parsed = tf.io.parse_example(batch, specs)
        return tuple(
            info.features[key].decode_batch_example(tf.cast(parsed[key], serialized[key].tf_dtype)) for key in keys
        )

    ds = records.batch(_DECODE_CHUNK).map(parse_and_decode, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    # Known again after `unbatch`, as `as_dataset` declares it: Keras then knows the steps of an epoch.
    count = sum(i.take for i in instructions)
    ds = ds.apply(tf.data.experimental.assert_cardinality(count if take is None else min(count, take)))
    return ds.cache() if cache else ds


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
    ds = _supervised_examples(tfds_builder, split, take=take, cache=cache)
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
        instructions = info.splits[split].file_instructions
        files = tf.data.Dataset.from_tensor_slices((
            [os.fspath(i.filename) for i in instructions],
            np.array([i.skip for i in instructions], np.int64),
            np.array([i.take for i in instructions], np.int64),
        ))
        records = files.flat_map(lambda path, skip, count: tf.data.TFRecordDataset(path).skip(skip).take(count))
        spec = {"label": tf.io.FixedLenFeature([], tf.int64)}
        labels = records.batch(8192).map(lambda batch: tf.io.parse_example(batch, spec)["label"])
        _CLASS_COUNTS[key] = np.bincount(np.concatenate([x.numpy() for x in labels]), minlength=info.features["label"].num_classes)
    return tuple(int(_CLASS_COUNTS[key][c]) for c in classes)


def _domain_examples(tfds_builder, name, split, domain, domain_class, take, image_size):
    """uint8 images of one domain of `split`, in the split's order, cached after decoding."""
    if _is_cycle_gan(name):
        if split not in ("train", "test"):
            raise ValueError(f"`split` must be 'train' or 'test' for {name!r} (read as {split}A and {split}B); got {split!r}.")
        images = tfds_builder.as_dataset(split=f"{split}{domain}", as_supervised=True, shuffle_files=False).map(
            lambda image, label: image
        )
    else:
        images = _supervised_examples(tfds_builder, split, cache=False).filter(
            lambda image, label: tf.equal(label, domain_class)
        ).map(lambda image, label: image)
    if take is not None:
        images = images.take(take)
    if image_size is not None:
        channels = tfds_builder.info.features["image"].shape[-1]

        def resize(image):
            resized = tf.image.resize(image, [image_size, image_size], antialias=True)
            return tf.ensure_shape(tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8), [image_size, image_size, channels])

        images = images.map(resize, num_parallel_calls=tf.data.AUTOTUNE)
    return images.cache()


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
    classes = resolve_domains(name, domains, data_dir)
    tfds_builder = builder(name, data_dir)
    if image_size is None and None in tfds_builder.info.features["image"].shape[:2]:
        raise ValueError(f"The images of {name!r} vary in size: pass `image_size` (e.g. 64 on a CPU, 256 as in the paper).")
    drop = shuffle if drop_remainder is None else drop_remainder
    sizes = _domain_sizes(tfds_builder, name, split, classes)
    if sizes is not None:
        smaller = min(min(size, take or size) for size in sizes)
        num_batches = smaller // batch_size if drop else -(-smaller // batch_size)
        if num_batches == 0:
            raise ValueError(
                f"`batch_size`={batch_size} is more than the {smaller} images of the smaller domain of {split!r} "
                "(after `take`): no full batch."
            )

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
    if sizes is not None:
        pairs = pairs.apply(tf.data.experimental.assert_cardinality(num_batches))
    return pairs.prefetch(tf.data.AUTOTUNE)
