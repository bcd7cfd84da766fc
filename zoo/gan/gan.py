"""Generative adversarial networks: the two-player training step, the latent verbs, and the original GAN."""

import keras
import numpy as np
import tensorflow as tf

from zoo import ops
from zoo.gan import losses
from zoo.gan.minibatch_stddev import MinibatchStddev
from zoo.presets.mixin import PresetMixin


def _label_channels(images, labels, num_classes):
    """Appends the one-hot label to every pixel as extra channels (conditioning the discriminator)."""
    one_hot = keras.ops.reshape(keras.ops.one_hot(labels, num_classes), (-1, 1, 1, num_classes))
    planes = keras.ops.ones_like(images[..., :1]) * one_hot
    return keras.ops.concatenate([images, planes], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class GAN(PresetMixin, keras.Model):
    """A generative adversarial network: generator `G(z)` and discriminator `D(x)` in a two-player game.

    The generator maps noise `z ~ N(0, I)` to images in [-1, 1]; the discriminator scores images as real
    or fake. Training alternates, in each `train_step`, `d_steps` (k) discriminator updates and one
    generator update on the value function

        min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))].

    The generator's loss is chosen at `compile(loss=...)`: "minimax" (minimise `log(1 - D(G(z)))`),
    "non_saturating" (maximise `log D(G(z))`, the default), "wasserstein" (a critic with the gradient
    penalty of WGAN-GP) or "least_squares". Each discriminator step draws fresh noise.

    Real minibatches of the k discriminator steps: Algorithm 1 of Goodfellow et al. draws a fresh real
    minibatch for each of them. A batch of shape `(B, k, H, W, C)` (each row holds k images) gives step j the
    images `batch[:, j]`; a plain `(B, H, W, C)` batch is reused by all k steps. `fresh_real_batches=True`
    declares that the model wants the former: `real_images_per_example` is then k, and `trainers.train` loads
    `(B, k, ...)` batches (`trainers.data.load(..., group=k)`), so an epoch holds `N / (k B)` generator steps and
    each discriminator step still reads each training image once per epoch. Splitting the second axis keeps a
    replica's slice of every step's minibatch under `tf.distribute`. With `d_steps=1` both are the same.
    Design note: the extra axis (rather than k batches read inside `train_step`) keeps `model.fit(ds)` and
    `tf.distribute`'s batch splitting unchanged. The two are compared at equal generator steps (equal compute)
    by `python -m benchmarks.gan_tips --variants=k2_reused,k2_fresh` ("GAN tips" in `benchmarks/RESULTS.md`);
    with k = 2 on the fully connected GAN, 4680 generator steps each, one seed: reused FID 38.6, precision 0.722,
    recall 0.005; fresh FID 42.6, precision 0.771, recall 0.002 (5000 samples). Fresh batches did not measure
    better, so the default is the reused batch (as in earlier versions; an epoch also holds k times more
    generator steps).

    Losses are averaged over the global
    batch, regularizers scaled once per step, and each replica draws its examples' rows of the global batch's
    noise (`ops.per_example_noise`), so a step under a `tf.distribute` strategy gives the weights of the same
    step on one device.

    This class is the fully connected GAN of Goodfellow et al.; `DCGAN` swaps in convolutional players.
    With `num_classes`, both players are conditioned on the class (a conditional GAN): the generator sees
    `[z, one_hot(y)]`, the discriminator the image with `one_hot(y)` appended as channels.

    Metrics: `d_loss`, `g_loss`, `d_real` (mean `D(x)`; the mean critic score for score-based losses)
    and `d_fake` (mean `D(G(z))`).

    Args:
        image_shape: `(height, width, channels)` of the images.
        num_classes: int for a class-conditional GAN, or None.
        latent_dim: size of `z`. Default 64.
        d_steps: discriminator updates per generator update (k). Default 1.
        gp_weight: weight of the gradient penalty (used by the "wasserstein" loss). Default 10.
        hidden_units: widths of the fully connected layers (generator; reversed for the discriminator).
        fresh_real_batches: whether the k discriminator steps want k different real minibatches (see above).
            Default False (measured above).
        label_smoothing: one-sided label smoothing `s` of the logit games: real images' target is `1 - s`
            (Salimans et al., 2016). Default 0 (off).
        generator_norm: None (default) or "batch": batch normalisation after each hidden generator layer.
        discriminator_dropout: dropout rate after each hidden discriminator layer. Default 0.
        minibatch_stddev: whether the discriminator's last hidden layer also sees the batch's feature spread
            (`MinibatchStddev`, against mode collapse; couples a replica's examples under `tf.distribute`).
            Default False.
        seed: seed of the training noise and of verbs called without a seed.

    Example:
        >>> gan = GAN(image_shape=(28, 28, 1), latent_dim=64)
        >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="non_saturating")
        >>> gan.fit(images_in_minus_one_one, epochs=5)
        >>> images = gan.sample(16, seed=0)
        >>> pretrained = GAN.from_preset("fashion_mnist")      # shipped weights: zoo.list_presets()

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
        Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014.
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        latent_dim=64,
        d_steps=1,
        gp_weight=10.0,
        hidden_units=(256, 512),
        fresh_real_batches=False,
        label_smoothing=0.0,
        generator_norm=None,
        discriminator_dropout=0.0,
        minibatch_stddev=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = ops.check_image_shape(image_shape)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"`latent_dim` must be a positive int; got {latent_dim!r}.")
        if isinstance(d_steps, bool) or not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(f"`d_steps` must be a positive int (discriminator steps per generator step); got {d_steps!r}.")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(f"`num_classes` must be None or an int >= 2; got {num_classes!r}.")
        if not isinstance(fresh_real_batches, bool):
            raise TypeError(f"`fresh_real_batches` must be a bool; got {fresh_real_batches!r}.")
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"`label_smoothing` must be in [0, 1); got {label_smoothing!r}.")
        if generator_norm not in (None, "batch"):
            raise ValueError(f"`generator_norm` must be None or 'batch'; got {generator_norm!r}.")
        if not 0.0 <= float(discriminator_dropout) < 1.0:
            raise ValueError(f"`discriminator_dropout` must be in [0, 1); got {discriminator_dropout!r}.")
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.fresh_real_batches = fresh_real_batches
        self.label_smoothing = float(label_smoothing)
        self.generator_norm = generator_norm
        self.discriminator_dropout = float(discriminator_dropout)
        if not isinstance(minibatch_stddev, bool):
            raise TypeError(f"`minibatch_stddev` must be a bool; got {minibatch_stddev!r}.")
        self.minibatch_stddev = minibatch_stddev
        self.d_steps = d_steps
        self.gp_weight = float(gp_weight)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.seed = seed
        self.generator = self._build_generator()
        self.discriminator = self._build_discriminator()
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_name = None
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True

    # Players. Subclasses override these two builders; everything else is shared.
    def _generator_inputs(self):
        z = keras.Input((self.latent_dim,), name="z")
        if not self.num_classes:
            return z, z
        labels = keras.Input((), dtype="int32", name="labels")
        return [z, labels], keras.layers.Concatenate()([z, keras.ops.one_hot(labels, self.num_classes)])

    def _discriminator_inputs(self):
        """Inputs of a convolutional discriminator: the image, with one-hot label channels if conditional."""
        images = keras.Input(self.image_shape, name="images")
        if not self.num_classes:
            return images, images
        labels = keras.Input((), dtype="int32", name="labels")
        return [images, labels], _label_channels(images, labels, self.num_classes)

    def _build_generator(self):
        inputs, x = self._generator_inputs()
        for units in self.hidden_units:
            if self.generator_norm == "batch":
                x = keras.layers.Dense(units, use_bias=False)(x)
                # Synchronized: under tf.distribute the statistics are those of the global batch.
                x = keras.layers.BatchNormalization(synchronized=True)(x)
                x = keras.layers.ReLU()(x)
            else:
                x = keras.layers.Dense(units, activation="relu")(x)
        x = keras.layers.Dense(int(np.prod(self.image_shape)), activation="tanh")(x)
        return keras.Model(inputs, keras.layers.Reshape(self.image_shape)(x), name="generator")

    def _build_discriminator(self):
        images = keras.Input(self.image_shape, name="images")
        inputs, x = images, keras.layers.Flatten()(images)
        if self.num_classes:
            labels = keras.Input((), dtype="int32", name="labels")
            inputs, x = [images, labels], keras.layers.Concatenate()([x, keras.ops.one_hot(labels, self.num_classes)])
        for units in reversed(self.hidden_units):
            x = keras.layers.Dense(units)(x)
            x = keras.layers.LeakyReLU(0.2)(x)
            if self.discriminator_dropout:
                x = keras.layers.Dropout(self.discriminator_dropout, seed=self.seed)(x)
        if self.minibatch_stddev:
            x = MinibatchStddev()(x)
        return keras.Model(inputs, keras.layers.Dense(1)(x), name="discriminator")

    def _g(self, z, labels, training=False):
        return self.generator([z, labels] if self.num_classes else z, training=training)

    def _d(self, images, labels, training=False):
        return tf.reshape(self.discriminator([images, labels] if self.num_classes else images, training=training), [-1])

    # Keras plumbing.
    def compile(self, d_optimizer=None, g_optimizer=None, loss="non_saturating", **kwargs):
        """Sets one optimizer per player and the game.

        Args:
            d_optimizer: discriminator optimizer (default Adam(2e-4, beta_1=0.5), as in DCGAN).
            g_optimizer: generator optimizer (same default).
            loss: "non_saturating" (default), "minimax", "wasserstein" (WGAN-GP) or "least_squares".
        """
        if loss not in losses.GAMES:
            raise ValueError(f"`loss` must be one of {sorted(losses.GAMES)}; got {loss!r}.")
        if self.label_smoothing and not losses.GAMES[loss][2]:
            raise ValueError(f"`label_smoothing` applies to the games of D(x) logits (minimax, non_saturating), not loss={loss!r}.")
        if loss == "wasserstein" and any(
            isinstance(layer, keras.layers.BatchNormalization) for layer in self.discriminator.layers
        ):
            raise ValueError(
                "The gradient penalty of loss='wasserstein' is per example, which batch normalisation in the "
                "critic breaks (Gulrajani et al., 2017): build the model with discriminator_norm='layer' or None."
            )
        d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        # `optimizer` is the discriminator's, so Keras callbacks that read `model.optimizer` count its steps.
        super().compile(optimizer=d_optimizer, **kwargs)
        self.d_optimizer, self.g_optimizer, self.loss_name = d_optimizer, g_optimizer, loss
        self.d_loss_fn, self.g_loss_fn, self.logits = losses.GAMES[loss]
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if self.loss_name is None:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": self.loss_name,
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
            loss=config["loss"],
        )

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def call(self, inputs, training=False):
        """The generator: `z` (or `(z, labels)`) to images in [-1, 1]."""
        z, labels = (inputs if self.num_classes else (inputs, None))
        return self._g(z, labels, training=training)

    # Training.
    def _training_seed(self):
        """A fresh stateless seed from the model's `SeedGenerator`, the same on every replica.

        Draws from it go through `ops.per_example_noise` (here and in `losses.gradient_penalty`): each replica
        keeps its own rows of noise drawn for the global batch, so replicas see distinct fakes and a step
        under `tf.distribute` draws exactly the noise of the same step on one device.
        """
        return ops.stateless_seed(None, self.seed_generator)

    def _noise(self, batch_size):
        seed = self._training_seed()
        return ops.per_example_noise(lambda n: tf.random.stateless_normal([n, self.latent_dim], seed=seed), batch_size)

    @property
    def real_images_per_example(self):
        """Real images each example of a training batch should hold: k with `fresh_real_batches`, else 1."""
        return self.d_steps if self.fresh_real_batches else 1

    def _real_minibatches(self, images, labels):
        """The k discriminator steps' real `(images, labels)`: the columns of a `(B, k, ...)` batch, else one reused."""
        if images.shape.rank != len(self.image_shape) + 2:
            return [(images, labels)] * self.d_steps
        if images.shape[1] != self.d_steps:
            raise ValueError(
                f"A batch of shape (B, k, H, W, C) must hold k = d_steps = {self.d_steps} images per row; got {images.shape}."
            )
        return [(images[:, j], None if labels is None else labels[:, j]) for j in range(self.d_steps)]

    def _discriminator_loss(self, images, labels, training):
        fake = self._g(self._noise(tf.shape(images)[0]), labels, training=training)
        real_out = self._d(images, labels, training=training)
        fake_out = self._d(fake, labels, training=training)
        if self.label_smoothing:
            per_example = self.d_loss_fn(real_out, fake_out, label_smoothing=self.label_smoothing)
        else:
            per_example = self.d_loss_fn(real_out, fake_out)
        if self.loss_name == "wasserstein":
            penalty = losses.gradient_penalty(
                lambda x: self._d(x, labels, training=training), images, fake, self._training_seed()
            )
            per_example = per_example + self.gp_weight * penalty
        return per_example, real_out, fake_out

    def _generator_loss(self, batch_size, labels, training):
        fake_out = self._d(self._g(self._noise(batch_size), labels, training=training), labels, training=training)
        return self.g_loss_fn(fake_out)

    def _record(self, d_loss, g_loss, real_out, fake_out):
        to_stat = tf.sigmoid if self.logits else tf.identity
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(to_stat(real_out))
        self.d_fake_tracker.update_state(to_stat(fake_out))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        images, labels = ops.unpack_batch(data, conditional=bool(self.num_classes))
        real_minibatches = self._real_minibatches(tf.cast(images, tf.float32), labels)
        images, labels = real_minibatches[-1]
        d_variables = self.discriminator.trainable_variables
        for step_images, step_labels in real_minibatches:
            with tf.GradientTape() as tape:
                d_per_example, real_out, fake_out = self._discriminator_loss(step_images, step_labels, training=True)
                d_loss = ops.average_over_global_batch(d_per_example)
                d_loss = d_loss + ops.regularization_loss(self.discriminator.losses)
            self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_variables), d_variables))
        g_variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            g_per_example = self._generator_loss(tf.shape(images)[0], labels, training=True)
            g_loss = ops.average_over_global_batch(g_per_example) + ops.regularization_loss(self.generator.losses)
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_variables), g_variables))
        return self._record(d_per_example, g_per_example, real_out, fake_out)

    def test_step(self, data):
        images, labels = ops.unpack_batch(data, conditional=bool(self.num_classes))
        images, labels = self._real_minibatches(tf.cast(images, tf.float32), labels)[0]
        d_per_example, real_out, fake_out = self._discriminator_loss(images, labels, training=False)
        g_per_example = self._generator_loss(tf.shape(images)[0], labels, training=False)
        return self._record(d_per_example, g_per_example, real_out, fake_out)

    # Verbs.
    def latents(self, num_samples, seed=None):
        """Draws `z ~ N(0, I)` of shape `(num_samples, latent_dim)`; an int seed always gives the same draw."""
        num_samples = ops.check_num_samples(num_samples)
        return tf.random.stateless_normal([num_samples, self.latent_dim], seed=ops.stateless_seed(seed, self.seed_generator))

    def generate(self, z, labels=None):
        """Images in [-1, 1] of shape `(batch, H, W, C)` generated from latents `z` of shape `(batch, latent_dim)`.

        What serving's `generate` signature runs; traced, it also asserts in the graph that `z` is finite and
        `latent_dim` wide (`ops.check_latents`).

        Args:
            z: float latents `(batch, latent_dim)`, e.g. from `latents`.
            labels: int class labels `(batch,)` for a conditional GAN.
        """
        z = ops.check_latents(z, latent_dim=self.latent_dim)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=z.shape[0])
        return self._g(z, labels)

    def sample(self, num_samples, seed=None, labels=None):
        """`num_samples` generated images in [-1, 1]; the same int seed gives the same latents and images."""
        return self.generate(self.latents(num_samples, seed), labels)

    def discriminate(self, images, labels=None):
        """The discriminator's outputs (logits, or critic scores) for images in [-1, 1], shape `(batch,)`."""
        images = ops.check_images(images, image_shape=self.image_shape, kind="symmetric")
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=images.shape[0])
        return self._d(images, labels)

    def interpolate(self, z0, z1, steps=8, method="slerp", labels=None):
        """Images generated along a path between two latents.

        Args:
            z0, z1: latents of shape `(latent_dim,)` or `(1, latent_dim)`.
            steps: number of images, both end points included (>= 2).
            method: "slerp" (`ops.slerp`: along the great circle, which keeps Gaussian latents at a typical
                norm; White, "Sampling Generative Networks", 2016) or "linear".
            labels: one class label (int) for a conditional GAN, used along the whole path.

        Returns:
            Images in [-1, 1] of shape `(steps, H, W, C)`.
        """
        steps = ops.check_num_samples(steps, name="steps")
        if steps < 2:
            raise ValueError(f"`steps` must be >= 2 to include both end points; got {steps}.")
        if method not in ("slerp", "linear"):
            raise ValueError(f"`method` must be 'slerp' or 'linear'; got {method!r}.")
        a = ops.check_latents(tf.reshape(tf.convert_to_tensor(z0), [1, -1]), latent_dim=self.latent_dim, name="z0")[0]
        b = ops.check_latents(tf.reshape(tf.convert_to_tensor(z1), [1, -1]), latent_dim=self.latent_dim, name="z1")[0]
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        path = (1.0 - t) * a + t * b if method == "linear" else ops.slerp(a, b, t)
        return self.generate(path, None if labels is None else tf.fill([steps], int(labels)))

    def latent_arithmetic(self, z_a, z_b, z_c, labels=None):
        """Generates from `mean(z_a) - mean(z_b) + mean(z_c)` ("smiling woman - woman + man").

        Each argument holds one or several latents of one concept, `(n, latent_dim)` or `(latent_dim,)`;
        averaging several latents per concept makes the arithmetic stable (Radford et al., 2016).

        Returns:
            `(image, z)`: the generated image `(1, H, W, C)` in [-1, 1] and its latent `(1, latent_dim)`.
        """
        means = []
        for z, name in ((z_a, "z_a"), (z_b, "z_b"), (z_c, "z_c")):
            z = tf.convert_to_tensor(z)
            z = ops.check_latents(z[None] if z.shape.rank == 1 else z, latent_dim=self.latent_dim, name=name)
            means.append(tf.reduce_mean(z, axis=0))
        z = (means[0] - means[1] + means[2])[None]
        return self.generate(z, None if labels is None else tf.fill([1], int(labels))), z

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "num_classes": self.num_classes,
                "latent_dim": self.latent_dim,
                "d_steps": self.d_steps,
                "gp_weight": self.gp_weight,
                "hidden_units": self.hidden_units,
                "fresh_real_batches": self.fresh_real_batches,
                "label_smoothing": self.label_smoothing,
                "generator_norm": self.generator_norm,
                "discriminator_dropout": self.discriminator_dropout,
                "minibatch_stddev": self.minibatch_stddev,
                "seed": self.seed,
            }
        )
        return config
