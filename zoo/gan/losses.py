"""Adversarial losses as small pure functions of discriminator logits (or critic values).

Every function returns a per-example loss of shape `(batch,)`, to be minimised; the models average it over
the global batch (`zoo.ops.average_over_global_batch`). `D(x) = sigmoid(logit)` throughout, and
`log D = -softplus(-logit)`, `log(1 - D) = -softplus(logit)` keep them finite for any logit.
"""

import tensorflow as tf

from zoo import ops


def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """The discriminator's side of the minimax game: `-log D(x) - log(1 - D(G(z)))`.

    Shared by the minimax and non-saturating games (they differ only for the generator). With
    `label_smoothing` `s > 0` the real images' target is `1 - s` instead of 1 (one-sided label smoothing:
    `-(1 - s) log D(x) - s log(1 - D(x)) - log(1 - D(G(z)))`); the fakes' target stays 0, so the
    discriminator is kept from growing over-confident on real images without rewarding fakes where no data is.

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1.
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 3.4.
    """
    real_logits = tf.convert_to_tensor(real_logits)
    real_term = tf.nn.softplus(-real_logits)
    if label_smoothing:
        real_term = (1.0 - label_smoothing) * real_term + label_smoothing * tf.nn.softplus(real_logits)
    return _per_example(real_term + tf.nn.softplus(fake_logits))


def minimax_generator_loss(fake_logits):
    """The generator's side of the original game: minimise `log(1 - D(G(z)))`.

    Its gradient vanishes when the discriminator confidently rejects fakes (`D(G(z)) -> 0`): with respect to
    the logit it is `-D(G(z))`. Reference: Goodfellow et al., 2014, eq. 1.
    """
    return _per_example(-tf.nn.softplus(fake_logits))


def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss: maximise `log D(G(z))`, i.e. minimise `-log D(G(z))`.

    Same fixed point as the minimax game but a strong gradient (`-(1 - D(G(z)))` w.r.t. the logit) exactly
    when the generator is losing. Reference: Goodfellow et al., 2014, section 3.
    """
    return _per_example(tf.nn.softplus(-fake_logits))


def wasserstein_critic_loss(real_scores, fake_scores):
    """The WGAN critic loss `f(G(z)) - f(x)` (the critic maximises `f(x) - f(G(z))`).

    Reference: Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017.
    """
    return _per_example(fake_scores - real_scores)


def wasserstein_generator_loss(fake_scores):
    """The WGAN generator loss `-f(G(z))`. Reference: Arjovsky et al., 2017."""
    return _per_example(-fake_scores)


def least_squares_discriminator_loss(real_scores, fake_scores):
    """Least-squares discriminator loss `((f(x) - 1)^2 + f(G(z))^2) / 2`.

    Reference: Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017 (used by CycleGAN).
    """
    return _per_example(0.5 * (tf.square(real_scores - 1.0) + tf.square(fake_scores)))


def least_squares_generator_loss(fake_scores):
    """Least-squares generator loss `(f(G(z)) - 1)^2 / 2`. Reference: Mao et al., 2017."""
    return _per_example(0.5 * tf.square(fake_scores - 1.0))


def cycle_consistency_loss(real, reconstructed):
    """The cycle-consistency loss `mean |x - F(G(x))|` of one image, averaged over its pixels.

    `reconstructed` is the image sent to the other domain and back; the L1 distance asks the two translations to
    be inverses of each other, which the adversarial losses alone do not (any mapping onto the target
    distribution fools the discriminator). Returns shape `(batch,)`.

    Reference: Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks",
    ICCV 2017, eq. 2.
    """
    return _mean_absolute_error(real, reconstructed)


def identity_mapping_loss(real, mapped):
    """The identity-mapping loss `mean |y - G(y)|`: a translator fed an image of its target domain keeps it.

    Keeps colour and tone when the domains share them. Returns shape `(batch,)`.

    Reference: Zhu et al., 2017, section 5.2 (after Taigman et al., "Unsupervised Cross-Domain Image
    Generation", ICLR 2017).
    """
    return _mean_absolute_error(real, mapped)


def _mean_absolute_error(x, y):
    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    difference = tf.abs(tf.cast(x, tf.float32) - tf.cast(y, tf.float32))
    return tf.reduce_mean(tf.reshape(difference, [tf.shape(difference)[0], -1]), axis=-1)


def gradient_penalty(critic, real, fake, seed):
    """The WGAN-GP penalty `(||grad_xhat f(xhat)||_2 - 1)^2` on random interpolates of real and fake images.

    Args:
        critic: function from a batch of images to scores of shape `(batch,)` or `(batch, 1)`.
        real: real images `(batch, H, W, C)`.
        fake: generated images of the same shape.
        seed: shape-(2,) stateless seed of the interpolation weights.

    Returns:
        Per-example penalty of shape `(batch,)`.

    Reference: Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, algorithm 1.
    """
    # This replica's rows of the global batch's weights: under tf.distribute each example gets the weight it
    # would get on one device.
    epsilon = ops.per_example_noise(lambda n: tf.random.stateless_uniform([n, 1, 1, 1], seed=seed), tf.shape(real)[0])
    interpolates = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = critic(interpolates)
    gradients = tape.gradient(scores, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + 1e-12)
    return tf.square(norms - 1.0)


def _per_example(values):
    values = tf.convert_to_tensor(values)
    return tf.reshape(values, [tf.shape(values)[0]])


#: The games `GAN.compile(loss=...)` accepts: (discriminator loss, generator loss, whether the
#: discriminator's outputs are logits of a probability `D(x)` rather than unbounded scores).
GAMES = {
    "minimax": (discriminator_loss, minimax_generator_loss, True),
    "non_saturating": (discriminator_loss, non_saturating_generator_loss, True),
    "wasserstein": (wasserstein_critic_loss, wasserstein_generator_loss, False),
    "least_squares": (least_squares_discriminator_loss, least_squares_generator_loss, False),
}
