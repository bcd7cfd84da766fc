"""CycleGAN: unpaired image-to-image translation by two generators, two discriminators and cycle consistency."""

import math

import keras
import numpy as np
import tensorflow as tf

from zoo import ops
from zoo.gan import losses
from zoo.presets.mixin import PresetMixin

#: The two translation directions of `CycleGAN.translate`.
DIRECTIONS = ("a2b", "b2a")
_PLAYERS = ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b")
_OPTIMIZERS = ("a2b_optimizer", "b2a_optimizer", "d_a_optimizer", "d_b_optimizer")


def _instance_norm():
    # One group per channel is instance normalisation (Ulyanov et al., 2016), the paper's choice: unlike batch
    # normalisation it treats every image alone, so translations do not depend on the rest of the batch.
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)


def _resnet_generator(image_shape, filters, num_residual_blocks, name):
    """Johnson et al.'s residual translator: c7s1-f, d2f, d4f, R4f x n, u2f, uf, c7s1-C with tanh."""
    images = keras.Input(image_shape, name="images")
    x = keras.layers.Conv2D(filters, 7, padding="same", use_bias=False)(images)
    x = keras.layers.ReLU()(_instance_norm()(x))
    for width in (2 * filters, 4 * filters):
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(_instance_norm()(x))
    for _ in range(num_residual_blocks):
        y = keras.layers.Conv2D(4 * filters, 3, padding="same", use_bias=False)(x)
        y = keras.layers.ReLU()(_instance_norm()(y))
        y = keras.layers.Conv2D(4 * filters, 3, padding="same", use_bias=False)(y)
        x = keras.layers.Add()([x, _instance_norm()(y)])
    for width in (2 * filters, filters):
        x = keras.layers.Conv2DTranspose(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(_instance_norm()(x))
    outputs = keras.layers.Conv2D(image_shape[-1], 7, padding="same", activation="tanh")(x)
    return keras.Model(images, outputs, name=name)


def _patch_discriminator(image_shape, filters, num_downsamplings, name):
    """PatchGAN: 4x4 convolutions, `num_downsamplings` of stride 2, one score per overlapping image patch."""
    images = keras.Input(image_shape, name="images")
    x = images
    for i in range(num_downsamplings):
        x = keras.layers.Conv2D(filters * 2**i, 4, strides=2, padding="same", use_bias=i == 0)(x)
        x = keras.layers.LeakyReLU(0.2)(x if i == 0 else _instance_norm()(x))
    x = keras.layers.Conv2D(filters * 2**num_downsamplings, 4, padding="same", use_bias=False)(x)
    x = keras.layers.LeakyReLU(0.2)(_instance_norm()(x))
    return keras.Model(images, keras.layers.Conv2D(1, 4, padding="same")(x), name=name)


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{name}` must be an int >= {low}; got {value!r}.")
    return int(value)


def _check_weight(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a number; got {value!r}.")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}.")
    return float(value)


def _check_architecture(image_shape, num_classes, given, filters, num_residual_blocks, discriminator_filters,
                        discriminator_downsamplings):
    """Checks the constructor's architecture arguments; returns the four sizes as ints, in that order."""
    if num_classes is not None:
        raise ValueError(
            f"`num_classes` must be None: CycleGAN translates between two domains, without labels; got {num_classes!r}."
        )
    sizes = (
        _check_int(filters, "filters", 1),
        _check_int(num_residual_blocks, "num_residual_blocks", 0),
        _check_int(discriminator_filters, "discriminator_filters", 1),
        _check_int(discriminator_downsamplings, "discriminator_downsamplings", 1),
    )
    for name, player in given.items():
        if player is not None and not isinstance(player, keras.Model):
            raise TypeError(f"`{name}` must be a keras.Model or None; got {type(player).__name__}.")
    height, width, _ = image_shape
    if (given["generator_a2b"] is None or given["generator_b2a"] is None) and (height % 4 or width % 4):
        raise ValueError(
            f"`image_shape` must have height and width divisible by 4 (two stride-2 downsamplings in the "
            f"generators), e.g. (28, 28, 1) or (64, 64, 3); got {image_shape}."
        )
    if 2 ** sizes[3] > min(height, width):
        raise ValueError(
            f"`discriminator_downsamplings`={sizes[3]} halves a {height}x{width} image below one pixel; use fewer."
        )
    return sizes


def _per_image(values, batch_size):
    """Averages per-patch values `(batch * patches,)` to one value per image `(batch,)`."""
    return tf.reduce_mean(tf.reshape(values, [batch_size, -1]), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class CycleGAN(PresetMixin, keras.Model):
    """CycleGAN: translation between two image domains A and B learnt from unpaired examples of each.

    Two generators translate, `G: A -> B` (`generator_a2b`) and `F: B -> A` (`generator_b2a`); two
    discriminators tell real from translated images, `D_B` on domain B and `D_A` on domain A. Nothing pairs an
    image of A with one of B, so the adversarial losses alone would accept any mapping onto the other domain;
    the cycle-consistency loss asks the translations to invert each other. The generators minimise

        L_adv(G, D_B) + L_adv(F, D_A)
          + cycle_weight * (E_a |F(G(a)) - a| + E_b |G(F(b)) - b|)
          + identity_weight * (E_b |G(b) - b| + E_a |F(a) - a|)

    and each discriminator the adversarial loss of its domain, real images against the translations of the same
    step. The adversarial game is chosen at `compile(loss=...)` from the shared games of `zoo.gan.losses`:
    "least_squares" (the default, as in the paper), "non_saturating", "minimax" or "wasserstein" (with a
    gradient penalty). The L1 terms average over pixels of images in [-1, 1].

    Architecture (the paper's, narrower): the generator is Johnson et al.'s residual network (a 7x7
    convolution, two stride-2 downsamplings, `num_residual_blocks` residual blocks, two stride-2 transposed
    convolutions, a 7x7 convolution to tanh), so heights and widths must be divisible by 4; the discriminator
    is a PatchGAN that scores every overlapping patch (`discriminator_downsamplings` stride-2 4x4 convolutions,
    one stride-1, then one score per position) and its losses average over patches. Instance normalisation
    throughout; zero padding instead of the paper's reflection padding. Any of the four players can be
    replaced by your own Keras model (generators map `(batch, H, W, C)` images in [-1, 1] to the same shape,
    discriminators to scores of any shape `(batch, ...)`).

    Each `train_step` takes one step of each of the four optimizers: one per generator on the joint generator
    objective, then one per discriminator on the step's translations. `fit` takes batches of
    unpaired images `(images_a, images_b)` in [-1, 1] with as many images of A as of B
    (`trainers.data.load_unpaired`).

    Metrics: `g_loss` (the generator objective), `d_a_loss`, `d_b_loss`, `cycle_a` (`mean |F(G(a)) - a|`),
    `cycle_b` (`mean |G(F(b)) - b|`) and, with `identity_weight > 0`, `identity_a2b` (`mean |G(b) - b|`) and
    `identity_b2a` (`mean |F(a) - a|`). The cycle metrics are unweighted reconstruction errors.

    Args:
        image_shape: `(height, width, channels)` of both domains. Default (28, 28, 1).
        num_classes: must be None (translation is not class-conditional; the trainer passes it to every model).
        filters: width of the generators' first layer (2x and 4x after the downsamplings). Default 16.
        num_residual_blocks: residual blocks of each generator (the paper: 6 at 128 px, 9 at 256 px). Default 3.
        discriminator_filters: width of the discriminators' first layer (doubled at each downsampling). Default 32.
        discriminator_downsamplings: stride-2 layers of each discriminator (the paper's 70x70 PatchGAN: 3).
            Default 2.
        cycle_weight: weight `lambda` of the cycle-consistency loss. Default 10, as in the paper.
        identity_weight: weight of the identity-mapping loss; 0 (the default) leaves it out. The paper's code
            uses 0.5 * cycle_weight when it is on.
        gp_weight: gradient-penalty weight for `loss="wasserstein"`. Default 10.
        generator_a2b, generator_b2a, discriminator_a, discriminator_b: Keras models to use instead of the
            built-in players, or None.
        seed: seed of the gradient penalty's interpolation weights (the only randomness).

    Example:
        >>> from trainers import data
        >>> prep = data.Preprocessing("symmetric")
        >>> batches = data.load_unpaired("fashion_mnist", "train", prep, batch_size=32, domains=(7, 9))
        >>> model = CycleGAN(image_shape=(28, 28, 1))
        >>> model.compile()                      # Adam(2e-4, beta_1=0.5) for each player, least-squares game
        >>> model.fit(batches, epochs=3)
        >>> sneakers, boots = next(iter(batches))
        >>> as_boots = model.translate(sneakers, direction="a2b")
        >>> back = model.reconstruct(sneakers, direction="a2b")   # F(G(sneakers))

    References:
        Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
        Networks", ICCV 2017.
        Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.
        Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution", ECCV 2016.
        Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks" (PatchGAN), CVPR 2017.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        filters=16,
        num_residual_blocks=3,
        discriminator_filters=32,
        discriminator_downsamplings=2,
        cycle_weight=10.0,
        identity_weight=0.0,
        gp_weight=10.0,
        generator_a2b=None,
        generator_b2a=None,
        discriminator_a=None,
        discriminator_b=None,
        seed=None,
        **kwargs,
    ):
        image_shape = ops.check_image_shape(image_shape)
        given = dict(zip(_PLAYERS, (generator_a2b, generator_b2a, discriminator_a, discriminator_b)))
        sizes = _check_architecture(
            image_shape, num_classes, given, filters, num_residual_blocks, discriminator_filters, discriminator_downsamplings
        )
        super().__init__(**kwargs)
        self.image_shape = image_shape
        self.num_classes = None
        self.filters, self.num_residual_blocks, self.discriminator_filters, self.discriminator_downsamplings = sizes
        self.cycle_weight = _check_weight(cycle_weight, "cycle_weight")
        self.identity_weight = _check_weight(identity_weight, "identity_weight")
        self.gp_weight = _check_weight(gp_weight, "gp_weight")
        self.seed = seed
        self._given_players = given
        for name in _PLAYERS:
            setattr(self, name, self._build_player(name) if given[name] is None else given[name])
        self._check_players(given)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_name = None
        names = ["g_loss", "d_a_loss", "d_b_loss", "cycle_a", "cycle_b"]
        if self.identity_weight > 0:
            names += ["identity_a2b", "identity_b2a"]
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True

    def _build_player(self, name):
        """The default player `name`: a ResNet generator or a PatchGAN discriminator of the model's sizes."""
        if name.startswith("generator"):
            return _resnet_generator(self.image_shape, self.filters, self.num_residual_blocks, name)
        return _patch_discriminator(self.image_shape, self.discriminator_filters, self.discriminator_downsamplings, name)

    def _check_players(self, given):
        """Runs each given player on one blank image: a wrong shape fails here, not in the middle of `fit`."""
        probe = tf.zeros((1,) + self.image_shape)
        for name in ("generator_a2b", "generator_b2a"):
            if given[name] is not None:
                shape = tuple(given[name](probe).shape)
                if shape != (1,) + self.image_shape:
                    expected = ", ".join(map(str, self.image_shape))
                    raise ValueError(f"`{name}` must map (batch, {expected}) images to the same shape; got {shape}.")
        for name in ("discriminator_a", "discriminator_b"):
            if given[name] is not None:
                shape = tuple(given[name](probe).shape)
                if not shape or shape[0] != 1:
                    raise ValueError(f"`{name}` must map a batch of images to scores of shape (batch, ...); got {shape}.")

    # Keras plumbing.
    def compile(
        self, a2b_optimizer=None, b2a_optimizer=None, d_a_optimizer=None, d_b_optimizer=None, loss="least_squares", **kwargs
    ):
        """Sets one optimizer per player and the adversarial game.

        Args:
            a2b_optimizer: optimizer of `generator_a2b`, an instance or a name such as "adam" (default
                Adam(2e-4, beta_1=0.5), as in the paper).
            b2a_optimizer: optimizer of `generator_b2a` (same default).
            d_a_optimizer: optimizer of `discriminator_a` (same default).
            d_b_optimizer: optimizer of `discriminator_b` (same default).
            loss: "least_squares" (default), "non_saturating", "minimax" or "wasserstein" (gradient penalty).
        """
        if loss not in losses.GAMES:
            raise ValueError(f"`loss` must be one of {sorted(losses.GAMES)}; got {loss!r}.")
        optimizers = {}
        for name, optimizer in zip(_OPTIMIZERS, (a2b_optimizer, b2a_optimizer, d_a_optimizer, d_b_optimizer)):
            if optimizer is None:
                optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
            elif isinstance(optimizer, str):
                optimizer = keras.optimizers.get(optimizer)
            if not isinstance(optimizer, keras.optimizers.Optimizer):
                raise TypeError(
                    f"`{name}` must be a keras.optimizers.Optimizer, a name or None; got {type(optimizer).__name__}."
                )
            if any(optimizer is other for other in optimizers.values()):
                raise ValueError(f"`{name}` is another player's optimizer object: give each player its own.")
            optimizers[name] = optimizer
        # `optimizer` is generator A->B's, so Keras callbacks that read `model.optimizer` count the train steps.
        super().compile(optimizer=optimizers["a2b_optimizer"], **kwargs)
        for name, optimizer in optimizers.items():
            setattr(self, name, optimizer)
        self.loss_name = loss
        self.d_loss_fn, self.g_loss_fn, _ = losses.GAMES[loss]
        for optimizer, player in zip(optimizers.values(), self._players()):
            optimizer.build(player.trainable_variables)

    def _players(self):
        return [self.generator_a2b, self.generator_b2a, self.discriminator_a, self.discriminator_b]

    def get_compile_config(self):
        if self.loss_name is None:
            return None
        config = {name: keras.saving.serialize_keras_object(getattr(self, name)) for name in _OPTIMIZERS}
        return {**config, "loss": self.loss_name}

    def compile_from_config(self, config):
        optimizers = {name: keras.saving.deserialize_keras_object(config[name]) for name in _OPTIMIZERS}
        self.compile(**optimizers, loss=config["loss"])

    @property
    def metrics(self):
        return list(self._trackers.values())

    def call(self, inputs, training=False):
        """Translation A -> B of images in [-1, 1]."""
        return self.generator_a2b(inputs, training=training)

    # Training.
    def _training_seed(self):
        """A fresh stateless seed, the same on every replica: `losses.gradient_penalty` draws each replica's rows
        of the global batch's interpolation weights from it (`ops.per_example_noise`), as `GAN` does."""
        return ops.stateless_seed(None, self.seed_generator)

    def _unpack(self, data):
        a, b, _ = keras.utils.unpack_x_y_sample_weight(data)
        if b is None and isinstance(a, (tuple, list)) and len(a) == 2:
            a, b = a
        if b is None:
            raise ValueError("CycleGAN trains on unpaired batches `(images_a, images_b)`: pass both domains.")
        a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
        if a.shape[0] is not None and b.shape[0] is not None and a.shape[0] != b.shape[0]:
            raise ValueError(f"A batch must hold as many images of A as of B; got {a.shape[0]} and {b.shape[0]}.")
        same_size = tf.debugging.assert_equal(
            tf.shape(a)[0], tf.shape(b)[0], message="A batch must hold as many images of A as of B"
        )
        with tf.control_dependencies([same_size]):
            return tf.identity(a), b

    def _adversarial_generator_loss(self, discriminator, fake, training):
        scores = discriminator(fake, training=training)
        return _per_image(self.g_loss_fn(tf.reshape(scores, [-1])), tf.shape(fake)[0])

    def _discriminator_loss(self, discriminator, real, fake, training):
        batch_size = tf.shape(real)[0]
        real_scores = tf.reshape(discriminator(real, training=training), [-1])
        fake_scores = tf.reshape(discriminator(fake, training=training), [-1])
        per_image = _per_image(self.d_loss_fn(real_scores, fake_scores), batch_size)
        if self.loss_name == "wasserstein":
            def critic(x):  # One score per image: the mean over its patches.
                return _per_image(tf.reshape(discriminator(x, training=training), [-1]), tf.shape(x)[0])

            per_image = per_image + self.gp_weight * losses.gradient_penalty(critic, real, fake, self._training_seed())
        return per_image

    def _discriminator_losses(self, a, b, fake_a, fake_b, training):
        """`D_A`'s loss on real A against `F(b)`, and `D_B`'s on real B against `G(a)`, averaged over the batch."""
        d_a = self._discriminator_loss(self.discriminator_a, a, fake_a, training)
        d_b = self._discriminator_loss(self.discriminator_b, b, fake_b, training)
        return ops.average_over_global_batch(d_a), ops.average_over_global_batch(d_b)

    def _generator_objective(self, a, b, training):
        """The joint generator loss (a scalar), its unweighted parts per image, and the two translations."""
        fake_b = self.generator_a2b(a, training=training)
        fake_a = self.generator_b2a(b, training=training)
        parts = {
            "cycle_a": losses.cycle_consistency_loss(a, self.generator_b2a(fake_b, training=training)),
            "cycle_b": losses.cycle_consistency_loss(b, self.generator_a2b(fake_a, training=training)),
        }
        per_a = self._adversarial_generator_loss(self.discriminator_b, fake_b, training)
        per_b = self._adversarial_generator_loss(self.discriminator_a, fake_a, training)
        per_a = per_a + self.cycle_weight * parts["cycle_a"]
        per_b = per_b + self.cycle_weight * parts["cycle_b"]
        if self.identity_weight > 0:  # Two more generator passes per step, so only when the term counts.
            parts["identity_b2a"] = losses.identity_mapping_loss(a, self.generator_b2a(a, training=training))
            parts["identity_a2b"] = losses.identity_mapping_loss(b, self.generator_a2b(b, training=training))
            per_a = per_a + self.identity_weight * parts["identity_b2a"]
            per_b = per_b + self.identity_weight * parts["identity_a2b"]
        # Per domain: A and B images are separate examples of the batch.
        total = ops.average_over_global_batch(per_a) + ops.average_over_global_batch(per_b)
        total = total + ops.regularization_loss(self.generator_a2b.losses + self.generator_b2a.losses)
        return total, parts, (fake_a, fake_b)

    def _record(self, g_loss, d_a_loss, d_b_loss, parts):
        self._trackers["g_loss"].update_state(g_loss)
        self._trackers["d_a_loss"].update_state(d_a_loss)
        self._trackers["d_b_loss"].update_state(d_b_loss)
        for name, values in parts.items():
            self._trackers[name].update_state(values)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        a, b = self._unpack(data)
        generators = [self.generator_a2b.trainable_variables, self.generator_b2a.trainable_variables]
        with tf.GradientTape() as tape:
            g_loss, parts, (fake_a, fake_b) = self._generator_objective(a, b, training=True)
        gradients = tape.gradient(g_loss, generators[0] + generators[1])
        self.a2b_optimizer.apply_gradients(zip(gradients[: len(generators[0])], generators[0]))
        self.b2a_optimizer.apply_gradients(zip(gradients[len(generators[0]) :], generators[1]))

        # The discriminators see this step's translations, made before the generator update (as in the paper's code).
        fake_a, fake_b = tf.stop_gradient(fake_a), tf.stop_gradient(fake_b)
        d_a_variables = self.discriminator_a.trainable_variables
        d_b_variables = self.discriminator_b.trainable_variables
        with tf.GradientTape() as tape:
            d_a_loss, d_b_loss = self._discriminator_losses(a, b, fake_a, fake_b, training=True)
            # The two losses share no weights, so the gradient of their sum is each one's own gradient.
            regularization = ops.regularization_loss(self.discriminator_a.losses + self.discriminator_b.losses)
            d_loss = d_a_loss + d_b_loss + regularization
        gradients = tape.gradient(d_loss, d_a_variables + d_b_variables)
        self.d_a_optimizer.apply_gradients(zip(gradients[: len(d_a_variables)], d_a_variables))
        self.d_b_optimizer.apply_gradients(zip(gradients[len(d_a_variables) :], d_b_variables))
        return self._record(g_loss, d_a_loss, d_b_loss, parts)

    def test_step(self, data):
        a, b = self._unpack(data)
        g_loss, parts, (fake_a, fake_b) = self._generator_objective(a, b, training=False)
        d_a_loss, d_b_loss = self._discriminator_losses(a, b, fake_a, fake_b, training=False)
        return self._record(g_loss, d_a_loss, d_b_loss, parts)

    # Verbs.
    def _generator(self, direction):
        if direction not in DIRECTIONS:
            raise ValueError(f"`direction` must be one of {DIRECTIONS}; got {direction!r}.")
        return self.generator_a2b if direction == "a2b" else self.generator_b2a

    def translate(self, images, direction="a2b"):
        """Translates images in [-1, 1] of shape `(batch, H, W, C)`: "a2b" with `G`, "b2a" with `F`.

        Returns:
            The translations, float32 in [-1, 1], of the same shape.
        """
        generator = self._generator(direction)
        images = ops.check_images(images, image_shape=self.image_shape, kind="symmetric")
        return generator(images, training=False)

    def reconstruct(self, images, direction="a2b"):
        """Sends images to the other domain and back: `F(G(x))` for "a2b", `G(F(y))` for "b2a"."""
        translated = self.translate(images, direction)
        return self._generator("b2a" if direction == "a2b" else "a2b")(translated, training=False)

    def generator_losses(self, images_a, images_b):
        """The terms of the generator objective on one unpaired batch, as floats (for inspection and tests).

        Args:
            images_a, images_b: images in [-1, 1] of shape `(batch, H, W, C)`, as many of each domain.

        Returns:
            A dict: "total" (the weighted objective the generators minimise); "cycle" and "identity", the
            unweighted sums over both domains of the per-domain mean L1 errors ("identity" is 0.0 and not
            computed when `identity_weight` is 0); and "adversarial", the rest of the total (the two adversarial
            terms, plus the regularization losses of custom generators that have some).
        """
        if self.loss_name is None:
            raise ValueError("Call `compile()` first: the adversarial terms depend on its `loss`.")
        a = ops.check_images(images_a, image_shape=self.image_shape, kind="symmetric", name="images_a")
        b = ops.check_images(images_b, image_shape=self.image_shape, kind="symmetric", name="images_b")
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"`images_a` and `images_b` must hold as many images; got {a.shape[0]} and {b.shape[0]}.")
        total, parts, _ = self._generator_objective(a, b, training=False)
        mean = lambda names: float(sum(tf.reduce_mean(parts[n]) for n in names if n in parts))  # noqa: E731
        cycle, identity = mean(("cycle_a", "cycle_b")), mean(("identity_a2b", "identity_b2a"))
        return {
            "total": float(total),
            "adversarial": float(total) - self.cycle_weight * cycle - self.identity_weight * identity,
            "cycle": cycle,
            "identity": identity,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "num_classes": self.num_classes,
                "filters": self.filters,
                "num_residual_blocks": self.num_residual_blocks,
                "discriminator_filters": self.discriminator_filters,
                "discriminator_downsamplings": self.discriminator_downsamplings,
                "cycle_weight": self.cycle_weight,
                "identity_weight": self.identity_weight,
                "gp_weight": self.gp_weight,
                "seed": self.seed,
            }
        )
        for name, player in self._given_players.items():
            config[name] = None if player is None else keras.saving.serialize_keras_object(player)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in _PLAYERS:
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
