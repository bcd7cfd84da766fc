"""What every fully visible belief network of the zoo shares: likelihood, training step, sampling, completion."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import ops
from zoo.presets.mixin import PresetMixin
from zoo.utils.single_optimizer import SingleOptimizerMixin

tfd = tfp.distributions


class AutoregressiveModel(SingleOptimizerMixin, PresetMixin, keras.Model):
    """Base of PixelCNN, GatedPixelCNN, RowLSTM and DiagonalBiLSTM.

    The joint distribution of an image factorises in raster order, and in R, G, B order inside a pixel:

        p(x) = prod_i p(x_i | x_1, ..., x_{i-1}).

    A subclass only defines `_logits(x, labels, training)`: one network pass that maps a whole image (floats
    in [0, 1]) to the parameters of every conditional at once, and whose output at sub-pixel i depends only
    on the inputs before i. The conditionals are TFP distributions: Bernoulli for `num_levels=2`, categorical
    over the levels otherwise; `log_prob` is exact. Sampling and completion draw one sub-pixel at a time
    inside `tf.while_loop`s in one `tf.function`, so they export as a graph. By default they use the model's
    cached sampler (`_cached_sampler`, see `zoo.pixel.cached`), which computes each layer only at the pixel
    being drawn; `method="naive"` reruns the whole network per sub-pixel and is the reference. Every uniform
    number a generation consumes is drawn before the loop (`_noise`), from one seed for the batch or one per
    row: `sample_rows` and `complete_rows` answer each row exactly as a one-image call with its seed would, at
    the cost of one batched call, for every subclass (a subclass whose draw needs more than one uniform per
    sub-pixel raises `noise_per_subpixel` and overrides `_draw`).

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

    @property
    def data_dependent_init(self):
        """Whether `initialize_from_data(batch)` should run once before training (PixelCNN++ with weight
        normalisation); False here."""
        return False

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
        return ops.split_last_axis(features, [self.color_channels, self.params_per_subpixel])

    def _to_unit(self, images):
        return tf.cast(images, tf.float32) / float(self.num_levels - 1)

    def _distribution(self, logits):
        if self.num_levels == 2:
            return tfd.Independent(tfd.Bernoulli(logits=logits[..., 0], dtype=tf.int32), reinterpreted_batch_ndims=3)
        return tfd.Independent(tfd.Categorical(logits=logits, dtype=tf.int32), reinterpreted_batch_ndims=3)

    def _log_likelihood(self, logits, images):
        """`log p(images)` per image under `_distribution(logits)`, the int levels cast to its dtype (floats for
        PixelCNN++'s quantized logistics, int32 for the categoricals)."""
        distribution = self._distribution(logits)
        return distribution.log_prob(tf.cast(images, distribution.dtype))

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
        return self._log_likelihood(self._logits(self._to_unit(images), labels), images)

    def call(self, inputs, training=False):
        """The logits of every conditional, `(batch, H, W, C, params_per_subpixel)`, given the image."""
        images, labels = (inputs if self.num_classes else (inputs, None))
        return self._logits(self._to_unit(images), labels, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker, self.nll_tracker, self.bits_per_dim_tracker]

    def _nll(self, data, training):
        images, labels = ops.unpack_batch(data, conditional=bool(self.num_classes))
        images = tf.cast(images, tf.int32)
        labels = None if labels is None else tf.cast(labels, tf.int32)
        return -self._log_likelihood(self._logits(self._to_unit(images), labels, training=training), images)

    def _record(self, nll):
        self.loss_tracker.update_state(nll)
        self.nll_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(ops.bits_per_dim(nll, self.image_shape))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            nll = self._nll(data, training=True)
            loss = ops.average_over_global_batch(nll) + ops.regularization_loss(self.losses)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._record(nll)

    def test_step(self, data):
        return self._record(self._nll(data, training=False))

    # Generation.
    def sample(self, num_samples, seed=None, labels=None, method="auto"):
        """Draws images sub-pixel by sub-pixel (raster order, then R, G, B).

        Args:
            num_samples: number of images.
            seed: int for reproducible samples.
            labels: `(num_samples,)` class labels for a conditional model.
            method: "auto" (default: cached where the model has a cached sampler), "cached" or "naive" (one
                full network pass per sub-pixel, the reference). Both give the same images for the same
                seed, up to float rounding of the logits (see `_cached_loop`).

        Returns:
            int32 levels of shape `(num_samples, H, W, C)`.
        """
        num_samples = ops.check_num_samples(num_samples)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=num_samples)
        canvas = tf.zeros((num_samples,) + self.image_shape, tf.int32)
        known = tf.zeros_like(canvas, tf.bool)
        return self._generate(canvas, known, labels, ops.stateless_seed(seed, self.seed_generator), method)

    def sample_rows(self, seeds, labels=None, method="auto"):
        """One image per seed: row `i` is exactly `sample(1, seed=int(seeds[i]), labels=labels[i:i+1])[0]`.

        Rows are independent of each other and of the batch they are drawn in, which is what a server that
        batches requests needs; the cost is that of `sample(len(seeds))`, since each row's uniforms are drawn
        once from its own seed before the loop (see `_noise`) and the networks run on the whole batch. Works
        eagerly and inside a `tf.function` (the SavedModel export calls it with a symbolic batch).

        Args:
            seeds: int `(batch,)`, any int64 values (negative too), reduced as `sample`'s int seed is.
            labels: `(batch,)` class labels for a conditional model.
            method: "auto", "cached" or "naive", as in `sample`.

        Returns:
            int32 levels of shape `(batch, H, W, C)`.

        Example:
            >>> rows = model.sample_rows([3, 7])
            >>> bool(tf.reduce_all(rows[1] == model.sample(1, seed=7)[0]))
            True
        """
        seeds = self._check_seeds(seeds)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=seeds.shape[0])
        canvas = tf.zeros(tf.concat([tf.shape(seeds)[:1], self.image_shape], 0), tf.int32)
        known = tf.zeros_like(canvas, tf.bool)
        return self._generate(canvas, known, labels, seeds, method)

    def complete(self, images, known_mask, seed=None, labels=None, method="auto"):
        """Image completion: keeps the known sub-pixels exactly and samples the others from their conditionals.

        Args:
            images: int levels `(batch, H, W, C)`; values where `known_mask` is False are ignored.
            known_mask: bool, `(batch, H, W, C)`, `(batch, H, W, 1)` or `(H, W)` (broadcast); True = keep.
            seed: int for reproducible completions.
            labels: class labels for a conditional model.
            method: "auto", "cached" or "naive", as in `sample`.

        Returns:
            int32 levels `(batch, H, W, C)`, equal to `images` wherever `known_mask` is True.
        """
        images, known_mask, labels = self._check_completion(images, known_mask, labels)
        canvas = tf.where(known_mask, images, tf.zeros_like(images))
        return self._generate(canvas, known_mask, labels, ops.stateless_seed(seed, self.seed_generator), method)

    def complete_rows(self, images, known_mask, seeds, labels=None, method="auto"):
        """`complete` with one seed per image: row `i` is exactly `complete(images[i:i+1], known_mask[i:i+1],
        seed=int(seeds[i]), labels=labels[i:i+1])[0]`, at the cost of one `complete` of the whole batch.

        Args:
            images, known_mask, labels, method: as in `complete`.
            seeds: int `(batch,)`, one per image, as in `sample_rows`.

        Returns:
            int32 levels `(batch, H, W, C)`, equal to `images` wherever `known_mask` is True.
        """
        images, known_mask, labels = self._check_completion(images, known_mask, labels)
        seeds = self._check_seeds(seeds)
        if None not in (seeds.shape[0], images.shape[0]) and seeds.shape[0] != images.shape[0]:
            raise ValueError(f"`seeds` must have one entry per image ({images.shape[0]}); got {seeds.shape[0]}.")
        canvas = tf.where(known_mask, images, tf.zeros_like(images))
        return self._generate(canvas, known_mask, labels, seeds, method)

    def _check_completion(self, images, known_mask, labels):
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
        return images, known_mask, labels

    @staticmethod
    def _check_seeds(seeds):
        """`(batch,)` int seeds to the `(batch, 2)` int32 stateless seeds of `ops.stateless_seed`, row by row."""
        seeds = tf.convert_to_tensor(seeds)
        if not seeds.dtype.is_integer:
            raise TypeError(f"`seeds` must hold ints, one per image; got dtype {seeds.dtype.name}.")
        if seeds.shape.rank != 1:
            raise ValueError(f"`seeds` must have shape (batch,), one int per image; got {seeds.shape}.")
        if seeds.shape[0] == 0:
            raise ValueError("`seeds` must have at least one entry; got none.")
        seeds = tf.math.floormod(tf.cast(seeds, tf.int64), 2**31 - 1)
        return tf.stack([tf.cast(seeds, tf.int32), tf.zeros_like(seeds, tf.int32)], axis=-1)

    def _generate(self, canvas, known, labels, seed, method):
        method = self._check_method(method)
        per_row = seed.shape.rank == 2  # A Python flag: `reduce_retracing` would relax the seed's rank.
        if labels is None:
            return self._generate_graph(canvas, known, seed, method, per_row)
        return self._generate_conditional_graph(canvas, known, labels, seed, method, per_row)

    def _check_method(self, method):
        if method not in ("auto", "cached", "naive"):
            raise ValueError(f"`method` must be 'auto', 'cached' or 'naive'; got {method!r}.")
        if method == "cached" and not self.has_cached_sampler:
            raise ValueError(f"{type(self).__name__} has no cached sampler; use method='naive' or 'auto'.")
        return "naive" if method == "naive" or not self.has_cached_sampler else "cached"

    @tf.function(reduce_retracing=True)
    def _generate_graph(self, canvas, known, seed, method, per_row):
        noise = self._noise(seed, tf.shape(canvas)[0], per_row)
        return self._sampling_loop(canvas, known, None, noise, method=method)

    @tf.function(reduce_retracing=True)
    def _generate_conditional_graph(self, canvas, known, labels, seed, method, per_row):
        noise = self._noise(seed, tf.shape(canvas)[0], per_row)
        return self._sampling_loop(canvas, known, labels, noise, method=method)

    @property
    def has_cached_sampler(self):
        """Whether this model has a cached sampler (the default of `sample` and `complete`)."""
        return type(self)._cached_sampler is not AutoregressiveModel._cached_sampler

    def _cached_sampler(self, batch_size, labels):
        """The per-pixel step of cached generation; a model without one samples with the naive loop.

        A subclass returns an object, built inside the sampling `tf.function`, with:
        `initial_state()` (caches, a nest of tensors and `TensorArray`s, see `zoo.pixel.cached`);
        `row_start(state, row)` (tensors every pixel of the row reads); `pixel(state, row_state, position,
        column, center)` returning the logits `(batch, C, params_per_subpixel)` at `position` given the
        pixel's channels drawn so far (`center`, floats, later channels zero) and the activations to cache;
        `pixel_done(state, position, pixel, activations)` and `row_end(state, row, row_pixels)` returning the
        updated state.
        """
        return None

    @property
    def noise_per_subpixel(self):
        """Uniform numbers one sub-pixel's draw consumes (`_draw`); a subclass whose draw needs more raises it."""
        return 1

    def _noise(self, seed, rows, per_row=False):
        """Every uniform number a generation consumes, `(H * W * C, rows, noise_per_subpixel)`, drawn once.

        `seed` is one stateless seed `(2,)` for the whole batch, or with `per_row` one per row `(rows, 2)`. Row `i` of a
        per-row draw is what a batch of one draws from `seed[i]` (the same op with the same shape), so
        `sample_rows` and `complete_rows` answer exactly what one-image calls answer. Drawing everything
        before the loop is what makes per-row seeds free in the loop: a draw only indexes this tensor.
        (Measured on 2 CPU cores, PixelCNN at batch 64: drawing each row's sub-pixel with its own seed inside
        the loop, a `map_fn` per sub-pixel, made the exported sampler 3.2x slower than `sample`.)
        """
        shape = [self.image_shape[0] * self.image_shape[1] * self.image_shape[2], self.noise_per_subpixel]
        if not per_row:
            noise = tf.random.stateless_uniform([rows] + shape, seed=seed)
        else:
            noise = tf.map_fn(
                lambda s: tf.random.stateless_uniform([1] + shape, seed=s)[0], seed, fn_output_signature=tf.float32
            )
        return tf.transpose(noise, [1, 0, 2])  # Sub-pixel major: one sub-pixel's noise is a slice.

    def _sampling_loop(self, canvas, known, labels, noise, method="auto"):
        """The sampler behind `sample` and `complete`: cached unless `method="naive"`; `noise` from `_noise`."""
        if self._check_method(method) == "cached":
            return self._cached_loop(canvas, known, labels, noise)
        return self._naive_loop(canvas, known, labels, noise)

    def _draw(self, step_logits, noise):
        """Values (int32, `(batch,)`) of one sub-pixel from its logits `(batch, params_per_subpixel)` and its
        uniforms `(batch, noise_per_subpixel)`.

        Bernoulli: `u < sigmoid(logit)`. Categorical: the inverse CDF, the first level whose cumulative
        probability exceeds `u` (one uniform per sub-pixel whatever the number of levels).
        """
        u = noise[:, 0]
        if self.num_levels == 2:
            return tf.cast(u < tf.sigmoid(step_logits[:, 0]), tf.int32)
        cdf = tf.cumsum(tf.nn.softmax(step_logits), axis=-1)
        below = tf.reduce_sum(tf.cast(cdf < u[:, None] * cdf[:, -1:], tf.int32), axis=-1)
        return tf.minimum(below, self.num_levels - 1)

    def _naive_loop(self, canvas, known, labels, noise):
        """The reference sampler: one full network pass per sub-pixel, in order; `noise` from `_noise`."""
        height, width, channels = self.image_shape
        total = height * width * channels

        def body(position, canvas):
            logits = self._logits(self._to_unit(canvas), labels)
            row, rest = position // (width * channels), position % (width * channels)
            col, channel = rest // channels, rest % channels
            values = self._draw(logits[:, row, col, channel], noise[position])  # logits (batch, params_per_subpixel)
            here = tf.reshape(tf.one_hot(position, total, on_value=True, off_value=False), self.image_shape)
            update = tf.logical_and(here[None], tf.logical_not(known))
            canvas = tf.where(update, values[:, None, None, None], canvas)
            return position + 1, canvas

        _, canvas = tf.while_loop(lambda p, c: p < total, body, (tf.constant(0), canvas))
        return canvas

    def _cached_loop(self, canvas, known, labels, noise):
        """Cached generation: each pixel costs one pass of the network at that pixel only.

        Same arguments and draws as `_naive_loop`, so the same seed gives the same images. The logits differ
        from the naive loop's only by float rounding (a convolution at one pixel is computed as a matrix
        product rather than by the full-image convolution), so a draw can differ only where a uniform number
        falls within that rounding of its threshold.

        Rows run in an outer `tf.while_loop` and pixels in an inner one; the model's `_cached_sampler` gives
        the initial caches, a per-row hook (`row_start`, `row_end`) for layers computed a row at a time, and
        the per-pixel step (`pixel`, `pixel_done`). The channels of a pixel are drawn in order with the
        network run at that pixel once per channel; after the last one every layer's value there is final
        and is written to the caches.
        """
        height, width, channels = self.image_shape
        batch_size = tf.shape(canvas)[0]
        sampler = self._cached_sampler(batch_size, labels)
        # (pixels, batch, channels): reading a pixel is a cheap slice of the leading axis.
        given = tf.reshape(tf.transpose(canvas, [1, 2, 0, 3]), [height * width, batch_size, channels])
        keep = tf.reshape(tf.transpose(known, [1, 2, 0, 3]), [height * width, batch_size, channels])
        pixels = tf.TensorArray(tf.int32, size=height * width, element_shape=tf.TensorShape([None, channels]))

        def row_body(row, state, pixels):
            row_state = sampler.row_start(state, row)

            def pixel_body(column, state, pixels):
                position = row * width + column
                values = []
                for channel in range(channels):
                    partial = values + [tf.zeros([batch_size], tf.int32)] * (channels - channel)
                    center = self._to_unit(tf.stack(partial, axis=-1))
                    logits, activations = sampler.pixel(state, row_state, position, column, center)
                    value = self._draw(logits[:, channel], noise[position * channels + channel])
                    values.append(tf.where(keep[position][:, channel], given[position][:, channel], value))
                value = tf.stack(values, axis=-1)
                state = sampler.pixel_done(state, position, self._to_unit(value), activations)
                return column + 1, state, pixels.write(position, value)

            _, state, pixels = tf.while_loop(
                lambda column, *_: column < width, pixel_body, (tf.constant(0), state, pixels)
            )
            row_pixels = tf.transpose(pixels.gather(row * width + tf.range(width)), [1, 0, 2])
            state = sampler.row_end(state, row, self._to_unit(row_pixels))
            return row + 1, state, pixels

        _, _, pixels = tf.while_loop(
            lambda row, *_: row < height, row_body, (tf.constant(0), sampler.initial_state(), pixels)
        )
        images = tf.reshape(pixels.stack(), [height, width, batch_size, channels])
        return tf.transpose(images, [2, 0, 1, 3])

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
