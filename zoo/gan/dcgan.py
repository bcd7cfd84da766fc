"""DCGAN: the deep convolutional generator and discriminator."""

import keras

from zoo import ops
from zoo.gan.gan import GAN

_NORMS = ("batch", "layer", None)


def _batch_norm():
    # Synchronized: under tf.distribute the statistics are those of the global batch, as on one device.
    return keras.layers.BatchNormalization(synchronized=True)


def _num_resamplings(size):
    """Stride-2 steps between a small base map and `size`: halve while even and above 4 (28 -> 7, 32 -> 4)."""
    steps = 0
    while size % 2 == 0 and size > 4 and steps < 4:
        size //= 2
        steps += 1
    return steps, size


@keras.saving.register_keras_serializable(package="zoo")
class DCGAN(GAN):
    """Deep convolutional GAN: the architecture guidelines of Radford et al. on the `GAN` training game.

    Generator: a dense projection of `z` to a small feature map, then stride-2 transposed convolutions that
    double the resolution and halve the width, with batch normalisation and ReLU, and a tanh output
    (28x28: 7 -> 14 -> 28; 32x32: 4 -> 8 -> 16 -> 32). Discriminator: the mirror image with stride-2
    convolutions (no pooling), LeakyReLU(0.2), normalisation on every layer but the first, and a single
    linear output. For WGAN-GP use `discriminator_norm="layer"` (or None): batch normalisation couples the
    examples of a batch, which the per-example gradient penalty forbids. Batch statistics are synchronized
    across `tf.distribute` replicas, so they are those of the global batch, as on one device.

    Training, losses, conditioning and verbs are those of `GAN`.

    Args:
        image_shape: `(height, width, channels)`, e.g. (28, 28, 1) or (32, 32, 3).
        num_classes: int for a class-conditional DCGAN, or None.
        latent_dim: size of `z`. Default 100.
        d_steps: discriminator updates per generator update (k). Default 1.
        gp_weight: gradient-penalty weight for loss="wasserstein". Default 10.
        filters: width of the widest generator layer (halved at each upsampling). Default 128.
        discriminator_norm: "batch" (default), "layer" or None.
        fresh_real_batches, label_smoothing: as for `GAN`.
        seed: seed of the training noise and of verbs called without a seed.

    Example:
        >>> dcgan = DCGAN(image_shape=(28, 28, 1))
        >>> dcgan.compile(loss="non_saturating")   # Adam(2e-4, beta_1=0.5) for both players
        >>> dcgan.fit(images_in_minus_one_one, epochs=5)
        >>> grid = dcgan.sample(64, seed=0)
        >>> pretrained = DCGAN.from_preset("fashion_mnist")    # shipped weights: zoo.list_presets()

    References:
        Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
        Adversarial Networks", ICLR 2016.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        latent_dim=100,
        d_steps=1,
        gp_weight=10.0,
        filters=128,
        discriminator_norm="batch",
        seed=None,
        **kwargs,
    ):
        if discriminator_norm not in _NORMS:
            raise ValueError(f"`discriminator_norm` must be one of {_NORMS}; got {discriminator_norm!r}.")
        if not isinstance(filters, int) or filters < 2:
            raise ValueError(f"`filters` must be an int >= 2; got {filters!r}.")
        image_shape = ops.check_image_shape(image_shape)
        height, width, _ = image_shape
        steps, base = _num_resamplings(height)
        if steps < 1 or _num_resamplings(width) != (steps, width // 2**steps):
            raise ValueError(
                f"`image_shape` must be square-ish with sizes divisible by 2 at least once (e.g. 28 or 32); got {image_shape}."
            )
        self.filters = filters
        self.discriminator_norm = discriminator_norm
        self._steps, self._base = steps, (base, width // 2**steps)
        for name in ("hidden_units", "generator_norm", "discriminator_dropout", "minibatch_stddev"):
            if name in kwargs:
                raise TypeError(f"`{name}` shapes the fully connected `GAN`; DCGAN is convolutional (set `filters`, `discriminator_norm`).")
        super().__init__(
            image_shape=image_shape, num_classes=num_classes, latent_dim=latent_dim, d_steps=d_steps,
            gp_weight=gp_weight, seed=seed, **kwargs,
        )

    def _build_generator(self):
        inputs, x = self._generator_inputs()
        width = self.filters
        x = keras.layers.Dense(self._base[0] * self._base[1] * width, use_bias=False)(x)
        x = _batch_norm()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Reshape((self._base[0], self._base[1], width))(x)
        for _ in range(self._steps - 1):
            width = max(width // 2, 8)
            x = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False)(x)
            x = _batch_norm()(x)
            x = keras.layers.ReLU()(x)
        images = keras.layers.Conv2DTranspose(self.image_shape[-1], 4, strides=2, padding="same", activation="tanh")(x)
        return keras.Model(inputs, images, name="generator")

    def _build_discriminator(self):
        inputs, x = self._discriminator_inputs()
        widths = [max(self.filters // 2 ** (self._steps - 1 - i), 8) for i in range(self._steps)]
        for i, width in enumerate(widths):
            x = keras.layers.Conv2D(width, 4, strides=2, padding="same")(x)
            if i > 0 and self.discriminator_norm == "batch":
                x = _batch_norm()(x)
            elif i > 0 and self.discriminator_norm == "layer":
                x = keras.layers.LayerNormalization()(x)
            x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Flatten()(x)
        return keras.Model(inputs, keras.layers.Dense(1)(x), name="discriminator")

    def get_config(self):
        config = super().get_config()
        for name in ("hidden_units", "generator_norm", "discriminator_dropout", "minibatch_stddev"):
            config.pop(name)
        config.update({"filters": self.filters, "discriminator_norm": self.discriminator_norm})
        return config
