"""What every fully visible belief network of the zoo shares: likelihood, training step, sampling, completion."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import ops

tfd = tfp.distributions


class AutoregressiveModel(keras.Model):
    """Base of PixelCNN, GatedPixelCNN, RowLSTM and DiagonalBiLSTM.

    The joint distribution of an image factorises in raster order, and in R, G, B order inside a pixel:

        p(x) = prod_i p(x_i | x_1, ..., x_{i-1}).

    A subclass only defines `_logits(x, labels, training)`: one network pass that maps a whole image (floats
    in [0, 1]) to the parameters of every conditional at once, and whose output at sub-pixel i depends only
    on the inputs before i. The conditionals are TFP distributions: Bernoulli for `num_levels=2`, categorical
    over the levels otherwise; `log_prob` is exact. Sampling and completion run the network once per
    sub-pixel inside a `tf.while_loop` in one `tf.function`, so they export as a graph.

    Metrics: `loss` and `nll` (negative log-likelihood, nats per image) and `bits_per_dim`.
    """

    def __init__(self, image_shape=(28, 28, 1), num_classes=None, num_levels=2, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = ops.check_image_shape(image_shape)
        if not isinstance(num_levels, int) or not 2 <= num_levels <= 256:
            raise ValueError(f"`num_levels` must be an int in [2, 256]; got {num_levels!r}.")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(f"`num_classes` must be None or an int >= 2; got {num_classes!r}.")
        self.num_classes = num_classes
        self.num_levels = num_levels
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")

    @property
    def color_channels(self):
        return self.image_shape[-1]

    @property
    def params_per_subpixel(self):
        """Outputs per colour channel: 1 Bernoulli logit, or one logit per level."""
        return 1 if self.num_levels == 2 else self.num_levels

    def _finish_build(self):
        """Subclasses call this at the end of `__init__`: runs the network once so every weight exists."""
        images = tf.zeros((1,) + self.image_shape)
        labels = tf.zeros((1,), tf.int32) if self.num_classes else None
        self._logits(images, labels)
        self.built = True

    def _logits(self, x, labels, training=False):
        """`(batch, H, W, C, params_per_subpixel)` logits from floats `x` in [0, 1]. Subclasses define it."""
        raise NotImplementedError

    def _output_logits(self, features):
        """Reshapes a final layer's `C * params_per_subpixel` channels into `(..., C, params_per_subpixel)`."""
        shape = tf.concat([tf.shape(features)[:-1], [self.color_channels, self.params_per_subpixel]], axis=0)
        return tf.reshape(features, shape)

    def _to_unit(self, images):
        return tf.cast(images, tf.float32) / float(self.num_levels - 1)

    def _distribution(self, logits):
        if self.num_levels == 2:
            return tfd.Independent(tfd.Bernoulli(logits=logits[..., 0], dtype=tf.int32), reinterpreted_batch_ndims=3)
        return tfd.Independent(tfd.Categorical(logits=logits, dtype=tf.int32), reinterpreted_batch_ndims=3)

    def _check(self, images, labels):
        images = ops.check_images(images, image_shape=self.image_shape, kind="levels", num_levels=self.num_levels)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=images.shape[0])
        return images, labels

    def distribution(self, images, labels=None):
        """The model's conditionals given `images` (teacher forcing), as one TFP distribution over images.

        `distribution(x).log_prob(x)` is the exact log-likelihood of `x`; each sub-pixel's conditional reads
        only the sub-pixels before it.
        """
        images, labels = self._check(images, labels)
        return self._distribution(self._logits(self._to_unit(images), labels))

    def log_prob(self, images, labels=None):
        """Exact `log p(x)` in nats per image, shape `(batch,)`.

        Args:
            images: int levels `(batch, H, W, C)` in [0, num_levels - 1].
            labels: int class labels `(batch,)` for a conditional model.
        """
        images, labels = self._check(images, labels)
        return self._distribution(self._logits(self._to_unit(images), labels)).log_prob(images)

    def call(self, inputs, training=False):
        """The logits of every conditional, `(batch, H, W, C, params_per_subpixel)`, given the image."""
        images, labels = (inputs if self.num_classes else (inputs, None))
        return self._logits(self._to_unit(images), labels, training=training)

    def compile(self, optimizer="adam", **kwargs):
        """Compiles with `optimizer` (default Adam) and builds it, so its state can be restored before a step."""
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips this for models with a custom `compile`; without it a reloaded model is not compiled.
        self.compile(**keras.saving.deserialize_keras_object(config))

    @property
    def metrics(self):
        return [self.loss_tracker, self.nll_tracker, self.bits_per_dim_tracker]

    def _nll(self, data, training):
        images, labels = ops.unpack_batch(data, conditional=bool(self.num_classes))
        images = tf.cast(images, tf.int32)
        labels = None if labels is None else tf.cast(labels, tf.int32)
        return -self._distribution(self._logits(self._to_unit(images), labels, training=training)).log_prob(images)

    def _record(self, nll):
        self.loss_tracker.update_state(nll)
        self.nll_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(ops.bits_per_dim(nll, self.image_shape))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            nll = self._nll(data, training=True)
            loss = ops.average_over_global_batch(nll)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._record(nll)

    def test_step(self, data):
        return self._record(self._nll(data, training=False))

    # Generation.
    def sample(self, num_samples, seed=None, labels=None):
        """Draws images sub-pixel by sub-pixel (raster order, then R, G, B).

        Args:
            num_samples: number of images.
            seed: int for reproducible samples.
            labels: `(num_samples,)` class labels for a conditional model.

        Returns:
            int32 levels of shape `(num_samples, H, W, C)`.
        """
        num_samples = ops.check_num_samples(num_samples)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=num_samples)
        canvas = tf.zeros((num_samples,) + self.image_shape, tf.int32)
        known = tf.zeros_like(canvas, tf.bool)
        return self._generate(canvas, known, labels, ops.stateless_seed(seed, self.seed_generator))

    def complete(self, images, known_mask, seed=None, labels=None):
        """Image completion: keeps the known sub-pixels exactly and samples the others from their conditionals.

        Args:
            images: int levels `(batch, H, W, C)`; values where `known_mask` is False are ignored.
            known_mask: bool, `(batch, H, W, C)`, `(batch, H, W, 1)` or `(H, W)` (broadcast); True = keep.
            seed: int for reproducible completions.
            labels: class labels for a conditional model.

        Returns:
            int32 levels `(batch, H, W, C)`, equal to `images` wherever `known_mask` is True.
        """
        images, labels = self._check(images, labels)
        known_mask = tf.convert_to_tensor(known_mask)
        if known_mask.dtype != tf.bool:
            raise TypeError(f"`known_mask` must be boolean; got {known_mask.dtype.name}.")
        try:
            if known_mask.shape.rank == 2:
                known_mask = known_mask[None, :, :, None]
            known_mask = tf.broadcast_to(known_mask, tf.shape(images))
        except (ValueError, tf.errors.InvalidArgumentError):
            raise ValueError(
                f"`known_mask` must broadcast to the images' shape {tuple(images.shape)}; got {known_mask.shape}."
            ) from None
        canvas = tf.where(known_mask, images, tf.zeros_like(images))
        return self._generate(canvas, known_mask, labels, ops.stateless_seed(seed, self.seed_generator))

    def _generate(self, canvas, known, labels, seed):
        if labels is None:
            return self._generate_graph(canvas, known, seed)
        return self._generate_conditional_graph(canvas, known, labels, seed)

    @tf.function(reduce_retracing=True)
    def _generate_graph(self, canvas, known, seed):
        return self._naive_loop(canvas, known, None, seed)

    @tf.function(reduce_retracing=True)
    def _generate_conditional_graph(self, canvas, known, labels, seed):
        return self._naive_loop(canvas, known, labels, seed)

    def _draw(self, step_logits, seed):
        """Values (int32, `(batch,)`) of one sub-pixel for logits `(batch, params_per_subpixel)`, from one stateless seed."""
        if self.num_levels == 2:
            u = tf.random.stateless_uniform(tf.shape(step_logits[:, 0]), seed=seed)
            return tf.cast(u < tf.sigmoid(step_logits[:, 0]), tf.int32)
        return tf.cast(tf.random.stateless_categorical(step_logits, 1, seed=seed)[:, 0], tf.int32)

    def _naive_loop(self, canvas, known, labels, seed, draw=None):
        """The reference sampler: one full network pass per sub-pixel, in order.

        `draw(step_logits, position)` gives the values of the sub-pixel at `position` for every row; by
        default `_draw` with `seed` folded with the position (the export draws row by row instead).
        """
        if draw is None:
            draw = lambda step_logits, position: self._draw(
                step_logits, tf.random.experimental.stateless_fold_in(seed, position)
            )
        height, width, channels = self.image_shape
        total = height * width * channels

        def body(position, canvas):
            logits = self._logits(self._to_unit(canvas), labels)
            row, rest = position // (width * channels), position % (width * channels)
            col, channel = rest // channels, rest % channels
            values = draw(logits[:, row, col, channel], position)  # logits (batch, params_per_subpixel)
            here = tf.reshape(tf.one_hot(position, total, on_value=True, off_value=False), self.image_shape)
            update = tf.logical_and(here[None], tf.logical_not(known))
            canvas = tf.where(update, values[:, None, None, None], canvas)
            return position + 1, canvas

        _, canvas = tf.while_loop(lambda p, c: p < total, body, (tf.constant(0), canvas))
        return canvas

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "num_classes": self.num_classes,
                "num_levels": self.num_levels,
                "seed": self.seed,
            }
        )
        return config
