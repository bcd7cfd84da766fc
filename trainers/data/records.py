"""The fast TFRecord reader of TFDS splits, and the decoded split kept for every later pipeline.

TFDS parses and decodes one example per map call (`tf.io.parse_single_example`, then the PNG decode). Here a
split's TFRecord files are read in TFDS's own order (its default interleave over the split's file
instructions), parsed `_DECODE_CHUNK` records at a time with `tf.io.parse_example`, and decoded with each
feature's own `decode_batch_example`: the same tensors for about half the CPU time (Fashion-MNIST: ~30 instead
of ~70 us per image on 2 cores, nearly all of it in the PNG decoder). A dataset in another file format, or
whose supervised features are not fixed-shape tensors when serialized, is read through `as_dataset` instead.

Decoding is then what the first epoch of a new pipeline costs, and it gives the same arrays every time. So
`decoded_split` decodes a split once and keeps it: in memory for the rest of the process, and as `.npy` files
in `decoded/` beside the TFDS files, so that a later process (the next training run) starts from the decoded
uint8 images too. (Measured with `python -m benchmarks.loop_benchmark`, 2 cores: the first epoch from the kept
split runs at the speed of every later epoch; decoding it the first time is in RESULTS.md's "cold" column.)
"""

import hashlib
import logging
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.utils import atomic

_logger = logging.getLogger(__name__)

# Records parsed and decoded per `tf.io.parse_example` call. Sizes from 256 to 4096 decode Fashion-MNIST equally
# fast; a small one keeps unshuffled streaming reads from decoding far ahead of what they use.
_DECODE_CHUNK = 256
# `tfds.ReadConfig`'s defaults for interleaving a split's files (`tensorflow_datasets/core/reader.py`).
_TFDS_CYCLE_LENGTH, _TFDS_BLOCK_LENGTH = 16, 16
_DECODED_DIR = "decoded"
_KEPT = {}  # (data path, split) -> (images, labels) decoded in this process.


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


def record_files(info, split):
    """`(path, skip, take)` of each file instruction of `split`, as a dataset, in TFDS's order."""
    instructions = info.splits[split].file_instructions
    return tf.data.Dataset.from_tensor_slices((
        [os.fspath(i.filename) for i in instructions],
        np.array([i.skip for i in instructions], np.int64),
        np.array([i.take for i in instructions], np.int64),
    ))


def supervised_examples(tfds_builder, split, *, take=None):
    """`(image, label)` examples of `split`, in the order `as_dataset(split, shuffle_files=False)` yields them,
    read and decoded a chunk at a time (see the module docstring); uint8 images, int64 labels."""
    return _decoded_chunks(tfds_builder, split, take).unbatch()


def _decoded_chunks(tfds_builder, split, take):
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
        return (ds.take(take) if take is not None else ds).batch(_DECODE_CHUNK)

    records = record_files(info, split).interleave(
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

    return records.batch(_DECODE_CHUNK).map(parse_and_decode, num_parallel_calls=tf.data.AUTOTUNE)


def _decoded_path(tfds_builder, split):
    digest = hashlib.sha256(str(split).encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() else "_" for c in str(split))[:40]
    return os.path.join(os.fspath(tfds_builder.data_path), _DECODED_DIR, f"{safe}-{digest}")


def _read_kept(path):
    """`(images, labels)` kept at `path` (two `.npy` files; plain `.npy` reads 2-3x faster than one `.npz`)."""
    try:
        return np.load(f"{path}.images.npy"), np.load(f"{path}.labels.npy")
    except (OSError, ValueError) as e:  # Missing, or unreadable: decode again.
        if os.path.exists(f"{path}.images.npy"):
            _logger.warning("Ignoring the unreadable decoded split %s (%s).", path, e)
        return None


def _write_kept(path, images, labels):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Labels first and images last, each renamed into place whole: images present means both are.
        for suffix, array in (("labels", labels), ("images", images)):
            with atomic.destination(f"{path}.{suffix}.npy") as tmp:
                np.save(tmp, array)
    except OSError as e:  # A read-only data directory: keep it in memory only.
        _logger.info("Could not keep the decoded split at %s (%s).", path, e)


def forget_decoded_in_memory():
    """Drops this process's copies of decoded splits; those kept on disk stay. A later `load` then starts as a
    new process does (benchmarks measure that first epoch)."""
    _KEPT.clear()


def decoded_split(tfds_builder, split, *, take=None, keep=True):
    """The uint8 images and int64 labels of `split` (its first `take`), in the split's order, as numpy arrays.

    With `keep`, the whole split is decoded once and kept, in this process and on disk beside the TFDS files
    (see the module docstring); a `take` of a split not kept yet decodes only those examples.

    Returns:
        `(images, labels)`: `(N, H, W, C)` uint8 and `(N,)` int64.
    """
    key = (os.fspath(tfds_builder.data_path), str(split))
    path = _decoded_path(tfds_builder, split)
    arrays = _KEPT.get(key) if keep else None
    if arrays is None and keep:
        arrays = _read_kept(path)
    if arrays is None:
        whole = keep and take is None
        chunks = list(_decoded_chunks(tfds_builder, split, None if whole else take).as_numpy_iterator())
        if not chunks:
            raise ValueError(f"Split {split!r} holds no examples.")
        arrays = tuple(np.concatenate(part) for part in zip(*chunks))
        if whole:
            _write_kept(path, *arrays)
        else:
            return arrays
    if keep:
        _KEPT[key] = arrays
    images, labels = arrays
    return (images, labels) if take is None else (images[:take], labels[:take])
