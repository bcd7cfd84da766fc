"""Encoder and decoder networks of the VAE, and the pixel likelihood they parameterise."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def build_encoder(image_shape, latent_dim, filters, num_classes=None, name="encoder"):
    """Convolutional encoder: an image (floats in [0, 1]) -> `2 * latent_dim` numbers (mean, raw scale).

    Two stride-2 convolutions per entry of `filters` halve height and width each time; the class label, for
    a conditional VAE, is appended as a one-hot vector before the last dense layer.
    """
    images = keras.Input(image_shape, name="images")
    x = images
    for f in filters:
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    inputs = [images]
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        x = keras.layers.Concatenate()([x, keras.ops.one_hot(labels, num_classes)])
    x = keras.layers.Dense(256, activation="relu")(x)
    outputs = keras.layers.Dense(2 * latent_dim, name="posterior_params")(x)
    return keras.Model(inputs if num_classes else images, outputs, name=name)


def build_decoder(image_shape, latent_dim, filters, num_outputs, num_classes=None, name="decoder"):
    """Convolutional decoder: a latent vector -> `num_outputs` numbers per pixel (likelihood parameters).

    Mirrors the encoder with transposed stride-2 convolutions; the one-hot class label is appended to `z`
    for a conditional VAE.
    """
    height, width, _ = image_shape
    factor = 2 ** len(filters)
    z = keras.Input((latent_dim,), name="z")
    x = z
    inputs = [z]
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        x = keras.layers.Concatenate()([x, keras.ops.one_hot(labels, num_classes)])
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dense((height // factor) * (width // factor) * filters[-1], activation="relu")(x)
    x = keras.layers.Reshape((height // factor, width // factor, filters[-1]))(x)
    for f in reversed(filters):
        x = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
    outputs = keras.layers.Conv2D(num_outputs, 3, padding="same", name="likelihood_params")(x)
    return keras.Model(inputs if num_classes else z, outputs, name=name)


def pixel_likelihood(params, image_shape, num_levels):
    """The decoder's distribution over whole images, from its per-pixel outputs.

    Args:
        params: `(batch, H, W, C)` logits for `num_levels=2`, `(batch, H, W, C * num_levels)` otherwise.
        image_shape: `(H, W, C)`.
        num_levels: 2 gives independent Bernoulli pixels; more gives an independent categorical over the
            levels of each sub-pixel, a true discrete likelihood with no assumption on the levels' order.

    Returns:
        A TFP distribution with event shape `(H, W, C)` over int32 levels.
    """
    if num_levels == 2:
        return tfd.Independent(tfd.Bernoulli(logits=params, dtype=tf.int32), reinterpreted_batch_ndims=3)
    logits = tf.reshape(params, tf.concat([tf.shape(params)[:-1], [image_shape[-1], num_levels]], axis=0))
    return tfd.Independent(tfd.Categorical(logits=logits, dtype=tf.int32), reinterpreted_batch_ndims=3)


def likelihood_mean(distribution, num_levels):
    """Mean image of `pixel_likelihood(...)`, as floats in [0, 1]."""
    if num_levels == 2:
        return tf.cast(distribution.distribution.probs_parameter(), tf.float32)
    probs = distribution.distribution.probs_parameter()
    levels = tf.range(num_levels, dtype=probs.dtype)
    return tf.reduce_sum(probs * levels, axis=-1) / float(num_levels - 1)
