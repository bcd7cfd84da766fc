"""PixelCNN++: down-shifted convolutions, gated ResNets over a U-net of resolutions, and a discretized
logistic mixture likelihood with linearly coupled colour channels (Salimans et al., 2017).

Design, for exactness against `tfd.PixelCNN` and for the base class's sub-pixel sampling: the network gives
every pixel a mixture over `K` components shared by its colour channels,

    p(x_1, ..., x_C) = sum_k pi_k prod_c q_k(x_c | x_<c),

with `q_k` a logistic quantized to the levels whose mean is shifted linearly by the channels before it. The
chain rule splits it exactly into one conditional per sub-pixel,

    p(x_c | x_<c) = sum_k w_kc q_k(x_c | x_<c),   w_kc proportional to pi_k prod_{j<c} q_k(x_j | x_<j),

a `tfd.MixtureSameFamily` of quantized logistics whose weights are the posterior of the component given the
pixel's earlier channels. So `_logits` returns, per sub-pixel, `K` mixture logits, `K` locations and `K`
scales, and everything of `AutoregressiveModel` (log_prob, sample, complete, export) applies unchanged; the
product of the conditionals is the joint mixture likelihood of `tfd.PixelCNN` (tested to 1e-4).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import ops
from zoo.pixel.autoregressive import AutoregressiveModel
from zoo.pixel.pixel_cnn_pp_cached import CachedPixelCNNPlusPlus
from zoo.pixel.pixel_cnn_pp_layers import GatedResnet, ShiftedConv2D, ShiftedConv2DTranspose, dense_layer

tfd = tfp.distributions
tfb = tfp.bijectors


def stack_geometry(receptive_field_dims):
    """Kernel size, valid rows and valid columns of every convolution kind, as `tfd.PixelCNN` defines them.

    Keys: "vertical_init", "horizontal_up_init", "horizontal_left_init", "vertical", "horizontal",
    "vertical_down", "horizontal_down", "vertical_up", "horizontal_up".
    """
    rows, cols = receptive_field_dims
    geometry = {
        "vertical_init": ((2 * rows - 1, cols), (0, rows - 1), (0, cols)),
        "horizontal_up_init": ((3, cols), (0, 1), (0, cols)),
        "horizontal_left_init": ((3, cols), (0, 2), (0, cols // 2)),
        "vertical": ((2 * rows - 3, cols), (0, rows - 1), (0, cols)),
        "horizontal": ((3, cols), (0, 2), (0, cols // 2 + 1)),
    }
    for stack, (h, w) in (("vertical", (rows - 1, cols)), ("horizontal", (2, cols // 2 + 1))):
        down_width = w + 1 if stack == "vertical" else 2 * w
        geometry[f"{stack}_down"] = ((2 * h, down_width), (0, h), (0, w))
        if stack == "vertical":
            geometry["vertical_up"] = ((2 * h - 2, w + 1), (h - 2, 2 * h - 2), (0, w))
        else:
            geometry["horizontal_up"] = ((2 * h - 2, 2 * w - 2), (h - 2, 2 * h - 2), (w - 2, 2 * w - 2))
    return geometry


@keras.saving.register_keras_serializable(package="zoo")
class PixelCNNPlusPlus(AutoregressiveModel):
    """PixelCNN++: the PixelCNN with a discretized logistic mixture likelihood (the network of `tfd.PixelCNN`).

    `p(x) = prod_pixels sum_k pi_k prod_c q_k(x_c | x_<c)` in raster order, each pixel's mixture computed
    from the pixels before it. The network has a vertical stack (rows above, down-shifted convolutions) and
    a horizontal stack (above and to the left, down-right-shifted), so it has no blind spot; gated ResNet
    blocks with concat_elu run down `num_hierarchies` resolutions (stride-2 shifted convolutions) and back
    up (transposed ones) with skip connections from the down pass (the u/ul streams of the paper). Each
    colour's logistic has its own location and scale per component; the location of channel c adds
    `coeff * x_j` for every earlier channel j of the pixel. The output is one distribution per sub-pixel
    (see the module docstring), so `log_prob` is exact and sampling draws sub-pixel by sub-pixel.

    Arguments mean the same as `tfd.PixelCNN`'s; `PixelCNNPlusPlus.from_tfp(distribution)` brings a trained
    `tfd.PixelCNN` over with its weights.

    Args:
        image_shape: `(height, width, channels)`, channels 1 or 3.
        num_classes: int to condition every ResNet block on a class label, or None.
        num_levels: 2 (binarized) to 256; the mixture is over the integers `0 .. num_levels - 1`. Default 256.
        num_resnet: gated ResNet blocks per hierarchy. Default 5.
        num_hierarchies: resolutions (each after the first halves the height and width). Default 3.
        num_filters: channels of both stacks. Default 160.
        num_logistic_mix: mixture components. Default 10.
        receptive_field_dims: `(rows, cols)` seen above and around a pixel per convolution; rows >= 3, cols
            odd. Default (3, 3).
        dropout_p: dropout before each block's second convolution, in training. Default 0.5.
        weight_norm: weight normalisation of every convolution and dense layer, as the paper and
            `tfd.PixelCNN` (`use_weight_norm=True`) train them; call `initialize_from_data` on a training batch
            before training (`trainers.train` does) for their data-dependent initialisation. Default False
            (plain kernels, what `from_tfp` and models saved without it build).
        data_init: whether training should start with the data-dependent initialisation of Salimans & Kingma
            (2016), `initialize_from_data` on a training batch (`trainers.train` calls it when this is on). With
            plain kernels it rescales the kernels themselves, so the network starts as the weight-normalised one
            would: each layer's outputs standardised on the batch. Default None: on exactly with `weight_norm`.
        seed: seed of sampling draws made without an explicit seed.

    Example:
        >>> model = PixelCNNPlusPlus(image_shape=(28, 28, 1), num_levels=256, num_resnet=1,
        ...                          num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> model.fit(levels, epochs=1)
        >>> normalised = PixelCNNPlusPlus(image_shape=(28, 28, 1), weight_norm=True)
        >>> normalised.initialize_from_data(first_batch)      # before fit, as tfd.PixelCNN does at its first call
        >>> model.log_prob(test_levels)          # exact, nats per image
        >>> model.sample(16, seed=0)             # cached sampler

    References:
        Salimans, Karpathy, Chen & Kingma, "PixelCNN++: Improving the PixelCNN with Discretized Logistic
        Mixture Likelihood and Other Modifications", ICLR 2017.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        num_levels=256,
        num_resnet=5,
        num_hierarchies=3,
        num_filters=160,
        num_logistic_mix=10,
        receptive_field_dims=(3, 3),
        dropout_p=0.5,
        weight_norm=False,
        data_init=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, num_classes=num_classes, num_levels=num_levels, seed=seed, **kwargs)
        height, width, channels = self.image_shape
        if channels not in (1, 3):
            raise ValueError(f"`image_shape` must have 1 or 3 channels; got {image_shape!r}.")
        for name, value in (("num_resnet", num_resnet), ("num_hierarchies", num_hierarchies),
                            ("num_filters", num_filters), ("num_logistic_mix", num_logistic_mix)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"`{name}` must be an int >= 1; got {value!r}.")
        scale = 2 ** (num_hierarchies - 1)
        if height % scale or width % scale:
            raise ValueError(
                f"`image_shape` {self.image_shape[:2]} must be divisible by 2 ** (num_hierarchies - 1) = {scale}."
            )
        dims = tuple(int(d) for d in receptive_field_dims)
        if len(dims) != 2 or dims[0] < 3 or dims[1] < 3 or dims[1] % 2 == 0:
            raise ValueError(f"`receptive_field_dims` must be (rows >= 3, odd cols >= 3); got {receptive_field_dims!r}.")
        if not 0.0 <= float(dropout_p) < 1.0:
            raise ValueError(f"`dropout_p` must be in [0, 1); got {dropout_p!r}.")
        self.num_resnet, self.num_hierarchies = int(num_resnet), int(num_hierarchies)
        self.num_filters, self.num_logistic_mix = int(num_filters), int(num_logistic_mix)
        self.receptive_field_dims, self.dropout_p = dims, float(dropout_p)
        self.weight_norm = bool(weight_norm)
        if data_init is not None and not isinstance(data_init, (bool, np.bool_)):
            raise TypeError(f"`data_init` must be a bool or None; got {data_init!r}.")
        self.data_init = self.weight_norm if data_init is None else bool(data_init)

        geometry = stack_geometry(dims)
        f = self.num_filters

        def block(stack, skip):
            return GatedResnet(f, *geometry[stack], skip=skip, dropout_p=self.dropout_p, num_classes=num_classes,
                               weight_norm=self.weight_norm)

        def conv(kind, **kwargs):
            return ShiftedConv2D(f, *geometry[kind], weight_norm=self.weight_norm, **kwargs)

        # Created in `tfd.PixelCNN`'s order, which `from_tfp` relies on (see `_layers_in_tfp_order`).
        self.vertical_init = conv("vertical_init", name="vertical_init")
        self.horizontal_up_init = conv("horizontal_up_init", name="horizontal_up_init")
        self.horizontal_left_init = conv("horizontal_left_init", name="horizontal_left_init")
        down_blocks, downsamples, up_blocks, upsamples = [], [], [], []
        for i in range(self.num_hierarchies):
            down_blocks.append([[block("vertical", False), block("horizontal", True)] for _ in range(self.num_resnet)])
            if i < self.num_hierarchies - 1:
                downsamples.append([conv(f"{s}_down", strides=2) for s in ("vertical", "horizontal")])
        for i in range(self.num_hierarchies):
            count = self.num_resnet if i == 0 else self.num_resnet + 1
            up_blocks.append([[block("vertical", True), block("horizontal", True)] for _ in range(count)])
            if i < self.num_hierarchies - 1:
                upsamples.append(
                    [ShiftedConv2DTranspose(f, *geometry[f"{s}_up"], strides=2, weight_norm=self.weight_norm)
                     for s in ("vertical", "horizontal")]
                )
        self.down_blocks, self.downsamples, self.up_blocks, self.upsamples = down_blocks, downsamples, up_blocks, upsamples
        self.output_dense = dense_layer(self.num_logistic_mix * self._outputs_per_component, self.weight_norm, "mixture")
        self._finish_build()

    @property
    def _outputs_per_component(self):
        c = self.color_channels
        return 1 + 2 * c + c * (c - 1) // 2

    @property
    def params_per_subpixel(self):
        """Per sub-pixel: `K` mixture logits, `K` locations and `K` scales (in level units)."""
        return 3 * self.num_logistic_mix

    # The network.
    def _class_vector(self, labels):
        return None if labels is None else tf.one_hot(labels, self.num_classes)

    def _network(self, x_symmetric, labels, training=False):
        """The mixture parameters `(batch, H, W, K * outputs_per_component)` from images in [-1, 1]."""
        cv = self._class_vector(labels)
        v = self.vertical_init(x_symmetric)
        h = self.horizontal_up_init(x_symmetric) + self.horizontal_left_init(x_symmetric)
        vs, hs = [v], [h]
        for i, blocks in enumerate(self.down_blocks):
            for vertical, horizontal in blocks:
                v = vertical(v, class_vector=cv, training=training)
                h = horizontal(h, skip=v, class_vector=cv, training=training)
                vs.append(v)
                hs.append(h)
            if i < len(self.downsamples):
                v, h = self.downsamples[i][0](v), self.downsamples[i][1](h)
                vs.append(v)
                hs.append(h)
        v, h = vs.pop(), hs.pop()
        for i, blocks in enumerate(self.up_blocks):
            for vertical, horizontal in blocks:
                v = vertical(v, skip=vs.pop(), class_vector=cv, training=training)
                h = horizontal(h, skip=tf.concat([v, hs.pop()], axis=-1), class_vector=cv, training=training)
            if i < len(self.upsamples):
                v, h = self.upsamples[i][0](v), self.upsamples[i][1](h)
        return self.output_dense(tf.nn.elu(h))

    def _logits(self, x, labels, training=False):
        return self._mixture_params(self._network(2.0 * x - 1.0, labels, training=training), x)

    # The likelihood.
    def _components(self, loc, scale):
        """Logistics of location `loc` and scale `scale` (level units), quantized to `0 .. num_levels - 1`."""
        logistic = tfd.TransformedDistribution(tfd.Logistic(loc=loc, scale=scale), tfb.Shift(-0.5))
        return tfd.QuantizedDistribution(logistic, low=0.0, high=float(self.num_levels - 1))

    def _mixture_params(self, raw, x):
        """Per sub-pixel conditional parameters `(..., C, 3K)` from the network output `raw`
        `(..., K * outputs_per_component)` and the pixel's values `x` `(..., C)` (floats in [0, 1]).

        Follows `tfd.PixelCNN`'s arithmetic (coupling in [-1, 1], then to level units) operation by operation.
        """
        k, c = self.num_logistic_mix, self.color_channels
        raw = ops.split_last_axis(raw, [k, self._outputs_per_component])
        mix_logits = raw[..., 0]
        locs = [raw[..., 1 + i] for i in range(c)]
        scales = tf.nn.softplus(raw[..., 1 + c : 1 + 2 * c]) + tf.exp(-7.0)
        x_symmetric = 2.0 * x - 1.0
        count = 0
        for i in range(c):
            for j in range(i):
                locs[i] = locs[i] + x_symmetric[..., j, None] * raw[..., 1 + 2 * c + count]
                count += 1
        half_range = 0.5 * float(self.num_levels - 1)
        loc = tf.stack([half_range * (l + 1.0) for l in locs], axis=-2)  # (..., C, K)
        scale = tf.linalg.matrix_transpose(scales) * half_range
        posterior = mix_logits[..., None, :]  # (..., 1, K): loc's shape for one channel; broadcast for more
        if c > 1:
            levels = tf.round(x * float(self.num_levels - 1))
            component_log_probs = self._components(loc, scale).log_prob(levels[..., None])  # (..., C, K)
            posterior = posterior + tf.math.cumsum(component_log_probs, axis=-2, exclusive=True)
        return tf.concat([posterior, loc, scale], axis=-1)

    def _distribution(self, logits):
        mix_logits, loc, scale = tf.split(logits, 3, axis=-1)
        mixture = tfd.MixtureSameFamily(tfd.Categorical(logits=mix_logits), self._components(loc, scale))
        return tfd.Independent(mixture, reinterpreted_batch_ndims=3)

    @property
    def noise_per_subpixel(self):
        """Two uniforms per sub-pixel: one picks the mixture component, one the logistic's value."""
        return 2

    def _draw(self, step_logits, noise):
        # What `MixtureSameFamily(...).sample` draws, by inverse CDFs of the base class's uniforms: the component
        # whose cumulative weight first exceeds u_1, then ceil(logistic - 0.5) clipped to the levels (as
        # `QuantizedDistribution` samples) with the logistic's inverse CDF at u_2.
        mix_logits, loc, scale = tf.split(step_logits, 3, axis=-1)
        cdf = tf.cumsum(tf.nn.softmax(mix_logits), axis=-1)
        below = tf.reduce_sum(tf.cast(cdf < noise[:, :1] * cdf[:, -1:], tf.int32), axis=-1)
        component = tf.minimum(below, self.num_logistic_mix - 1)[:, None]
        loc = tf.gather(loc, component, batch_dims=1)[:, 0]
        scale = tf.gather(scale, component, batch_dims=1)[:, 0]
        u = tf.maximum(noise[:, 1], np.finfo(np.float32).tiny)
        value = tf.math.ceil(loc + scale * (tf.math.log(u) - tf.math.log1p(-u)) - 0.5)
        return tf.cast(tf.clip_by_value(value, 0.0, float(self.num_levels - 1)), tf.int32)

    @property
    def data_dependent_init(self):
        """Whether `initialize_from_data` should run once before training (the `data_init` argument)."""
        return self.data_init

    def initialize_from_data(self, images, labels=None):
        """Data-dependent initialisation from one batch (Salimans & Kingma, 2016).

        Runs the network once over `images`; each layer in turn sets its scale and its bias so that its output
        has zero mean and unit variance per filter on the batch, given the layers before it already initialised.
        With `weight_norm` the scales are `g`, as `tfd.PixelCNN` sets them at its first call; with plain
        kernels each kernel is rescaled itself, so both parametrisations start as the same function of the
        batch. Call it once, before training (`trainers.train` does when `data_init` is on).

        Args:
            images: int levels `(batch, H, W, C)`, a training batch.
            labels: int class labels `(batch,)` for a conditional model.

        Example:
            >>> model = PixelCNNPlusPlus(image_shape=(28, 28, 1), data_init=True)
            >>> model.initialize_from_data(first_training_batch)
        """
        images, labels = self._check(images, labels)
        if not self.weight_norm:
            # A weight-normalised twin with these kernels as its directions is initialised; its kernels come back.
            twin = type(self).from_config({**self.get_config(), "weight_norm": True})
            pairs = list(zip(self._layers_in_tfp_order(), twin._layers_in_tfp_order()))
            for plain, normalised in pairs:
                normalised._v.assign(plain.kernel)
            twin.initialize_from_data(images, labels)
            for plain, normalised in pairs:
                plain.kernel.assign(normalised.kernel)
                plain.bias.assign(normalised.bias)
            return
        layers = self._layers_in_tfp_order()
        for layer in layers:
            layer._initializing = True
        try:
            self._logits(self._to_unit(images), labels, training=False)
        finally:
            for layer in layers:
                layer._initializing = False

    def _cached_sampler(self, batch_size, labels):
        return CachedPixelCNNPlusPlus(self, batch_size, labels)

    # Bringing a `tfd.PixelCNN` over.
    def _layers_in_tfp_order(self):
        """Every weighted layer in the order `tfd.PixelCNN` creates its own (weight-normalised) layers."""
        layers = [self.vertical_init, self.horizontal_up_init, self.horizontal_left_init]

        def block_layers(block):
            return [block.conv_1] + ([block.skip_dense] if block.skip_dense is not None else []) + [block.conv_2]

        for blocks, resampling in self._stages():
            for pair in blocks:
                layers += block_layers(pair[0]) + block_layers(pair[1])
            layers += resampling
        return layers + [self.output_dense]

    def _stages(self):
        """`(resnet pairs, resampling layers)` of the down then up pass, in creation order."""
        resampling = self.downsamples + [[]] + self.upsamples + [[]]
        return list(zip(self.down_blocks + self.up_blocks, resampling))

    def _resnets_in_tfp_order(self):
        return [block for blocks, _ in self._stages() for pair in blocks for block in pair]

    @classmethod
    def from_tfp(cls, distribution, seed=None, weight_norm=False):
        """A `PixelCNNPlusPlus` with the network and weights of a `tfd.PixelCNN`.

        Only the taps inside each convolution's mask are kept, and weight normalisation is folded into plain
        kernels (`g * v / ||v||`), or with `weight_norm=True` kept as the reference's own `v`, `g` and bias, so
        that further training goes on in its parameterisation. Either way `from_tfp(d).log_prob(x)` equals
        `d.log_prob(x)`.

        Args:
            distribution: a `tfp.distributions.PixelCNN` with `low=0`, `high=num_levels - 1`
                (1 <= high <= 255), the default concat_elu activation, no conditional input or one of one-hot
                class vectors (`conditional_shape=(K,)`: the model gets `num_classes=K`, and
                `log_prob(x, labels=y)` equals `d.log_prob(x, conditional_input=one_hot(y))`), and weights
                that respect its masks (as after any training step; a newly built one does not, see below).
            seed: seed of the new model's sampling draws.
            weight_norm: build the model with `weight_norm=True` and copy `v`, `g` and the bias of each layer
                (already initialised: do not call `initialize_from_data` on it, which would replace them).

        Returns:
            A `PixelCNNPlusPlus` (dropout as in `distribution`).

        Example:
            >>> dist = tfp.distributions.PixelCNN(image_shape=(28, 28, 1), high=255, low=0)  # ...then trained
            >>> model = PixelCNNPlusPlus.from_tfp(dist, weight_norm=True)
            >>> model.compile(optimizer="adam"); model.fit(train_ds, epochs=5)               # goes on training

        Raises:
            TypeError: `distribution` is not a `tfd.PixelCNN`.
            ValueError: an unsupported configuration; weight normalisation not yet initialised (call
                `distribution.log_prob` on data once); or kernels with weight outside their masks (a
                `tfd.PixelCNN` masks its kernels with a constraint that only an optimizer step applies, so
                an untrained one sees the future).
        """
        if not isinstance(distribution, tfd.PixelCNN):
            raise TypeError(f"`distribution` must be a tfp.distributions.PixelCNN; got {type(distribution).__name__}.")
        p = distribution.parameters
        low, high = p["low"], p["high"]
        num_classes = _tfp_num_classes(distribution)
        if low != 0 or int(high) != high or not 1 <= high <= 255:
            raise ValueError(f"`distribution` must have low=0 and an integer high in [1, 255]; got low={low}, high={high}.")
        if p["resnet_activation"] != "concat_elu":
            raise ValueError(f"`distribution` must use resnet_activation='concat_elu'; got {p['resnet_activation']!r}.")
        model = cls(
            image_shape=tuple(int(d) for d in distribution.image_shape),
            num_classes=num_classes,
            num_levels=int(high) + 1,
            num_resnet=p["num_resnet"],
            num_hierarchies=p["num_hierarchies"],
            num_filters=p["num_filters"],
            num_logistic_mix=p["num_logistic_mix"],
            receptive_field_dims=tuple(p["receptive_field_dims"]),
            dropout_p=p["dropout_p"],
            seed=seed,
            weight_norm=weight_norm,
        )
        sources = _tfp_layers(distribution)
        targets = model._layers_in_tfp_order()
        if len(sources) != len(targets):
            raise ValueError(f"`distribution` has {len(sources)} weighted layers; this architecture has {len(targets)}.")
        for source, target in zip(sources, targets):
            _copy_tfp_layer(source, target, weight_norm)
        if num_classes:
            projections = _tfp_class_projections(distribution)
            resnets = model._resnets_in_tfp_order()
            if len(projections) != len(resnets):
                raise ValueError(f"`distribution` has {len(projections)} conditional projections; this architecture has {len(resnets)}.")
            for source, target in zip(projections, resnets):
                target.class_projection.set_weights(source.get_weights())
        return model

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_resnet": self.num_resnet,
                "num_hierarchies": self.num_hierarchies,
                "num_filters": self.num_filters,
                "num_logistic_mix": self.num_logistic_mix,
                "receptive_field_dims": self.receptive_field_dims,
                "dropout_p": self.dropout_p,
                "weight_norm": self.weight_norm,
                "data_init": self.data_init,
            }
        )
        return config


def _tfp_num_classes(distribution):
    """The class count of a `tfd.PixelCNN` conditioned on one-hot class vectors of shape `(K,)`, or None."""
    shape = distribution.conditional_shape
    if shape is None:
        return None
    dims = tuple(shape)
    if len(dims) != 1 or dims[0] is None or int(dims[0]) < 2:
        raise ValueError(
            "`distribution` must be unconditional or conditioned on one-hot class vectors, conditional_shape=(K,) "
            f"with K >= 2; got conditional_shape={dims}."
        )
    return int(dims[0])


def _creation_index(layer):
    """The counter Keras appends to a layer's unique name ("dense_7" -> 7; "dense" -> 0)."""
    name = layer.name.rsplit("/", 1)[-1]
    suffix = name.rsplit("_", 1)[-1]
    return int(suffix) if "_" in name and suffix.isdigit() else 0


def _tfp_class_projections(distribution):
    """The plain `Dense` layers that project a `tfd.PixelCNN`'s conditional input, in creation order."""
    wrapped = {id(layer.layer) for layer in _tfp_layers(distribution)}
    dense = [
        layer for layer in distribution.network.submodules
        if type(layer).__name__ == "Dense" and id(layer) not in wrapped
    ]
    return sorted(dense, key=_creation_index)


def _tfp_layers(distribution):
    """The weight-normalised layers of a `tfd.PixelCNN` in creation order (their unique names count up)."""
    layers = [layer for layer in distribution.network.submodules if type(layer).__name__ == "WeightNorm"]
    return sorted(layers, key=_creation_index)


def _copy_tfp_layer(source, target, weight_norm):
    """Copies a `tfd.PixelCNN` `WeightNorm` layer into ours: the taps inside the mask, folded into a plain kernel or,
    with `weight_norm`, as `v`, `g` and bias."""
    kernel, bias = _folded(source)
    direction = source.v.numpy()
    if isinstance(target, (ShiftedConv2D, ShiftedConv2DTranspose)):
        window = (slice(*target.valid_rows), slice(*target.valid_cols))
        mask = np.zeros(kernel.shape[:2], bool)
        mask[window] = True
        if np.abs(kernel[~mask]).max(initial=0.0) > 0.0:
            raise ValueError(
                f"`distribution`'s layer {source.name} has weight outside its mask: an untrained tfd.PixelCNN "
                "applies its kernel masks (constraints) only at the first optimizer step."
            )
        # Nothing outside the mask, so the cropped `v` has the reference's norm.
        kernel, direction = kernel[window], direction[window]
    if tuple(target.kernel.shape) != kernel.shape:
        raise ValueError(f"Layer {source.name}: kernel {kernel.shape} does not fit {tuple(target.kernel.shape)}.")
    if weight_norm:
        target._v.assign(direction)
        target.g.assign(source.g)
    else:
        target.kernel.assign(kernel)
    target.bias.assign(bias)


def _folded(layer):
    """`(kernel, bias)` of a `tfp.layers.weight_norm.WeightNorm` layer with `g * v / ||v||` folded in."""
    if not bool(layer.initialized.numpy()):
        raise ValueError(
            f"`distribution`'s layer {layer.name} is not initialised yet: call distribution.log_prob on a batch "
            "of data once (weight normalisation initialises from the first batch)."
        )
    # The same operations as `WeightNorm._compute_weights`.
    kernel = tf.nn.l2_normalize(layer.v, axis=layer.kernel_norm_axes) * tf.expand_dims(layer.g, -layer.filter_axis - 3)
    return kernel.numpy(), layer.layer.bias.numpy()
