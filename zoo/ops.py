"""Small operations every zoo family shares.

Validation at the public boundary (shape, dtype, value range), loss averaging that stays correct under
`tf.distribute`, and the nats-to-bits/dim conversion used by every likelihood metric.
"""

import math

import numpy as np
import tensorflow as tf

#: How images are represented at a model's boundary, one name per `trainers.data` preprocessing.
#: "levels": integers in [0, num_levels - 1] (num_levels=2 is a binarized image);
#: "unit": floats in [0, 1]; "symmetric": floats in [-1, 1] (GANs).
IMAGE_KINDS = ("levels", "unit", "symmetric")


def average_over_global_batch(per_example_loss):
    """Mean of a per-example loss over the *global* batch.

    Under a `tf.distribute` strategy each replica sees `B / num_replicas` examples and the optimizer sums
    gradients across replicas, so each replica must divide by the global batch size. Outside a strategy
    this is the plain mean.

    Args:
        per_example_loss: float tensor of shape `(batch,)`.

    Returns:
        A scalar tensor.
    """
    return tf.nn.compute_average_loss(per_example_loss)


def per_example_noise(draw, batch_size):
    """This replica's rows of noise drawn for the whole global batch.

    Under a `tf.distribute` strategy every replica holds the same seed (the model's `SeedGenerator` is
    mirrored), so drawing `batch_size` rows on each would give every replica the same noise. Instead each
    replica draws the rows of all `num_replicas * batch_size` examples and keeps its own: replica `r` gets rows
    `[r * batch_size, (r + 1) * batch_size)`, the rows its examples get on one device with the whole batch
    (replicas hold consecutive slices of the global batch). One training step is then the same on one device
    and on any number of replicas. The extra draws are a few noise vectors per example, negligible next to
    the networks.

    Args:
        draw: function `n -> tensor` with `n` leading rows, drawn from a fixed stateless seed
            (e.g. `lambda n: tf.random.stateless_normal([n, latent_dim], seed)`).
        batch_size: this replica's batch size (a scalar int or int32 tensor).

    Returns:
        `draw`'s rows for this replica's examples, `batch_size` of them.

    Example:
        >>> seed = tf.constant([1, 2])
        >>> z = per_example_noise(lambda n: tf.random.stateless_normal([n, 8], seed), 16)  # (16, 8)
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return draw(batch_size)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * batch_size
    return draw(batch_size * context.num_replicas_in_sync)[start : start + batch_size]


def regularization_loss(losses):
    """The sum of a model's regularization losses, scaled for `tf.distribute` (0.0 when there are none).

    Replicas' gradients are summed, so each replica contributes `1 / num_replicas` of the penalty and the
    total is applied once per step, as on one device. Add it to `average_over_global_batch(per_example_loss)`.

    Args:
        losses: a list of scalar tensors, e.g. `model.losses` (weight and activity regularizers).
    """
    if not losses:
        return 0.0
    return tf.nn.scale_regularization_loss(tf.add_n([tf.cast(loss, tf.float32) for loss in losses]))


def split_last_axis(x, sizes):
    """`x` with its last axis reshaped into `sizes`, e.g. `(batch, C * P)` -> `(batch, C, P)`.

    The target shape is a constant when at most one other dimension is unknown (it becomes -1), so a graph
    traced for a symbolic batch, as a SavedModel's signatures are, runs no shape ops per call: in a sampling
    loop that calls this once per sub-pixel they had cost PixelCNN++ 11% at batch 1.

    Example:
        >>> split_last_axis(tf.zeros([4, 6]), [3, 2]).shape
        TensorShape([4, 3, 2])
    """
    dims = x.shape[:-1].as_list()
    if sum(d is None for d in dims) <= 1:
        return tf.reshape(x, [-1 if d is None else d for d in dims] + list(sizes))
    return tf.reshape(x, tf.concat([tf.shape(x)[:-1], sizes], axis=0))


def bits_per_dim(nats_per_image, image_shape):
    """Converts a negative log-likelihood in nats per image to bits per dimension.

    Args:
        nats_per_image: tensor or float, NLL of one image in nats.
        image_shape: `(height, width, channels)`.

    Returns:
        `nats / (H * W * C * ln 2)`, same type as the input.
    """
    num_dims = int(np.prod(image_shape))
    return nats_per_image / (num_dims * math.log(2.0))


def check_image_shape(image_shape, name="image_shape"):
    """Validates an `(height, width, channels)` tuple and returns it as a tuple of ints."""
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a tuple (height, width, channels) of ints; got {image_shape!r}.")
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"`{name}` must be (height, width, channels) with positive sizes; got {image_shape!r}.")
    return shape


def check_images(images, *, image_shape, kind, num_levels=None, name="images"):
    """Checks a batch of images at a public boundary and returns it as a tensor.

    Shape and dtype are checked statically. Values are checked when the tensor is eager (a user call); inside
    a traced function (training, export) the values are trusted, because a data-dependent Python error is
    impossible there.

    Args:
        images: array-like of shape `(batch, height, width, channels)`.
        image_shape: the expected `(height, width, channels)`.
        kind: one of `IMAGE_KINDS`.
        num_levels: for `kind="levels"`, the number of quantisation levels.
        name: argument name used in error messages.

    Returns:
        `images` as a tensor: int32 for "levels", float32 otherwise.

    Raises:
        TypeError: wrong dtype (floats given as levels, non-numeric input).
        ValueError: wrong rank or shape, or values outside the allowed range.
    """
    if kind not in IMAGE_KINDS:
        raise ValueError(f"`kind` must be one of {IMAGE_KINDS}; got {kind!r}.")
    images = tf.convert_to_tensor(images) if not isinstance(images, (tf.Tensor, tf.Variable)) else images
    expected = (None,) + tuple(image_shape)
    if images.shape.rank != 4:
        raise ValueError(
            f"`{name}` must have rank 4 (batch, height, width, channels) = {expected}; got shape {images.shape}."
        )
    if any(e is not None and a is not None and a != e for a, e in zip(images.shape, expected)):
        raise ValueError(f"`{name}` must have shape {expected}; got {images.shape}.")
    dtype = images.dtype
    if kind == "levels":
        if not (dtype.is_integer or dtype.is_bool):
            raise TypeError(
                f"`{name}` must hold integer levels in [0, {num_levels - 1}] (an integer dtype); got {dtype.name}. "
                "Quantise float images with `trainers.data.Preprocessing(kind='levels')`."
            )
        images = tf.cast(images, tf.int32)
        low, high = 0, num_levels - 1
    else:
        if not dtype.is_floating:
            raise TypeError(f"`{name}` must be a float tensor ({kind} range); got {dtype.name}.")
        images = tf.cast(images, tf.float32)
        low, high = (0.0, 1.0) if kind == "unit" else (-1.0, 1.0)
    if tf.executing_eagerly() and tf.size(images) > 0:
        lo, hi = float(tf.reduce_min(images)), float(tf.reduce_max(images))
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < low or hi > high:
            raise ValueError(f"`{name}` values must lie in [{low}, {high}]; got values in [{lo}, {hi}].")
    return images


def check_labels(labels, *, num_classes, batch_size=None, name="labels"):
    """Checks class labels for a conditional model; returns an int32 tensor of shape `(batch,)`."""
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"`{name}` given, but this model is unconditional (num_classes=None).")
        return None
    if labels is None:
        raise ValueError(f"This model is conditional on {num_classes} classes: pass `{name}` of shape (batch,).")
    labels = tf.convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise TypeError(f"`{name}` must be integers in [0, {num_classes - 1}]; got dtype {labels.dtype.name}.")
    if labels.shape.rank != 1:
        raise ValueError(f"`{name}` must have shape (batch,); got {labels.shape}.")
    if batch_size is not None and labels.shape[0] is not None and labels.shape[0] != batch_size:
        raise ValueError(f"`{name}` must have {batch_size} entries, one per image; got {labels.shape[0]}.")
    labels = tf.cast(labels, tf.int32)
    if tf.executing_eagerly() and tf.size(labels) > 0:
        lo, hi = int(tf.reduce_min(labels)), int(tf.reduce_max(labels))
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"`{name}` must lie in [0, {num_classes - 1}]; got values in [{lo}, {hi}].")
    return labels


def check_latents(z, *, latent_dim, name="z"):
    """Checks a batch of latents at a public boundary; returns it as a float32 tensor `(batch, latent_dim)`.

    dtype and shape are checked statically. Inside a traced function (a SavedModel signature) the graph also
    asserts the width and that every value is finite, because a tensor fed to a served signature need not
    have the static shape it was traced with; an eager call trusts the values, like `check_images`.

    Args:
        z: array-like of shape `(batch, latent_dim)`, floats.
        latent_dim: the model's latent size.
        name: argument name used in error messages.

    Raises:
        TypeError: `z` is not floating point.
        ValueError: `z` is not of shape `(batch, latent_dim)`.
    """
    z = tf.convert_to_tensor(z)
    if not z.dtype.is_floating:
        raise TypeError(f"`{name}` must be a float tensor of latents; got {z.dtype.name}.")
    if z.shape.rank != 2 or z.shape[-1] not in (None, latent_dim):
        raise ValueError(f"`{name}` must have shape (batch, {latent_dim}); got {z.shape}.")
    z = tf.cast(z, tf.float32)
    if tf.executing_eagerly():
        return z
    checks = [
        tf.debugging.assert_equal(tf.shape(z)[1], latent_dim, message=f"`{name}` must have shape (batch, {latent_dim})"),
        tf.debugging.assert_all_finite(z, message=f"`{name}` must be finite"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(z)


def slerp(z0, z1, t):
    """Spherical linear interpolation between latents: the great circle from `z0` (t = 0) to `z1` (t = 1).

        slerp(z0, z1; t) = (sin((1 - t) w) z0 + sin(t w) z1) / sin(w),   cos(w) = z0 . z1 / (|z0| |z1|)

    It keeps Gaussian latents at a typical norm, where the straight line passes through the unlikely centre
    (White, "Sampling Generative Networks", 2016). Nearly parallel pairs (sin w < 1e-6) take the straight
    line, which slerp tends to.

    Args:
        z0, z1: float tensors `(..., latent_dim)`: one pair per row, or one pair `(latent_dim,)` for a path.
        t: float tensor broadcastable against them with a trailing axis of 1, e.g. `(batch, 1)` or `(steps, 1)`.

    Returns:
        The interpolated latents, the broadcast shape of `z0`, `z1` and `t`.
    """
    cos = tf.reduce_sum(z0 * z1, -1, keepdims=True) / (
        tf.norm(z0, axis=-1, keepdims=True) * tf.norm(z1, axis=-1, keepdims=True)
    )
    omega = tf.acos(tf.clip_by_value(cos, -1.0, 1.0))
    sin = tf.sin(omega)
    linear = (1.0 - t) * z0 + t * z1
    arc = (tf.sin((1.0 - t) * omega) * z0 + tf.sin(t * omega) * z1) / tf.where(sin < 1e-6, 1.0, sin)
    return tf.where(sin < 1e-6, linear, arc)


def check_num_samples(num_samples, name="num_samples"):
    """Validates a positive Python int count."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"`{name}` must be a positive int; got {num_samples!r}.")
    if num_samples < 1:
        raise ValueError(f"`{name}` must be >= 1; got {num_samples}.")
    return int(num_samples)


def stateless_seed(seed, generator):
    """A shape-(2,) int32 stateless seed for TFP and `tf.random.stateless_*` ops.

    Args:
        seed: an int (the same int always gives the same draws), a `keras.random.SeedGenerator` (advanced by
            one step), or None (draws from `generator`, so successive calls differ).
        generator: the model's own `keras.random.SeedGenerator`, used when `seed` is None.

    Returns:
        An int32 tensor of shape (2,).
    """
    import keras  # Local import: zoo.ops stays importable without Keras initialised.

    if seed is None:
        seed = generator
    if isinstance(seed, keras.random.SeedGenerator):
        return tf.cast(seed.next(), tf.int32)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        if isinstance(seed, tf.Tensor) and seed.shape == (2,) and seed.dtype.is_integer:
            return tf.cast(seed, tf.int32)
        raise TypeError(f"`seed` must be an int, a keras.random.SeedGenerator or None; got {seed!r}.")
    return tf.constant([int(seed) % (2**31 - 1), 0], tf.int32)


def unpack_batch(data, conditional):
    """Splits a `train_step` batch into `(images, labels)`; labels is None for an unconditional model.

    Accepts what Keras passes for `fit(images)`, `fit(images, labels)`, `fit((images, labels))` and datasets
    of `images` or `(images, labels)`.
    """
    import keras

    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    if y is None and isinstance(x, (tuple, list)):
        x, y = (x[0], x[1]) if len(x) == 2 else (x[0], None)
    if conditional and y is None:
        raise ValueError("This model is conditional: fit it on (images, labels).")
    return x, (y if conditional else None)
