"""The minibatch standard deviation layer: a discriminator feature that sees the variety of the whole batch."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="zoo")
class MinibatchStddev(keras.layers.Layer):
    """Appends the batch's average feature standard deviation to every example's features.

    For inputs `x` of shape `(batch, features)` it computes, per feature, the standard deviation over the
    batch, averages it over the features, and appends that one number as an extra feature of every example:
    output `(batch, features + 1)`. A generator that collapses onto a few images makes fake batches with a
    small spread, which the discriminator then sees directly and penalises, so the generator is pushed to
    cover more of the data (the simplified minibatch discrimination of Karras et al.).

    The statistic couples the examples of a batch, like batch normalisation: under `tf.distribute` each
    replica computes it over its own examples, so a step on several replicas is not exactly the step on one.

    Example:
        >>> x = keras.layers.Dense(16)(keras.Input((8,)))
        >>> y = MinibatchStddev()(x)       # (batch, 17)

    References:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 3.2.
        Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and Variation", ICLR 2018,
        section 3.
    """

    def call(self, x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank != 2:
            raise ValueError(f"MinibatchStddev expects inputs of shape (batch, features); got {x.shape}.")
        mean, variance = tf.nn.moments(x, axes=[0])
        spread = tf.reduce_mean(tf.sqrt(variance + 1e-8))
        return tf.concat([x, tf.fill([tf.shape(x)[0], 1], spread)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (None if input_shape[-1] is None else input_shape[-1] + 1,)
