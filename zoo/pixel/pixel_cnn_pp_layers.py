"""The layers of PixelCNN++: shifted convolutions (no masks, no blind spot) and the gated ResNet block.

A PixelCNN++ convolution looks only up (the vertical, "down-shifted" stack) or up and to the left (the
horizontal, "down-right-shifted" stack). `tfd.PixelCNN` writes each one as a "same"-padded convolution whose
kernel is multiplied by a rectangular 0/1 mask (a kernel constraint, so it holds only after the first
optimizer step). Here the masked-out taps are never stored: a `ShiftedConv2D` keeps only the kernel's valid
rectangle and pads (or crops) the input so that every output reads exactly the inputs the masked "same"
convolution reads. It is the same function with fewer weights and fewer multiplications, causal from the
first call, and its geometry (`offsets`) is explicit, which is what the cached sampler needs.

With `weight_norm=True` every convolution and dense layer keeps its kernel as a direction `v` and a scale `g`
per output filter, `kernel = g * v / ||v||`, as PixelCNN++ and `tfd.PixelCNN` train them (Salimans & Kingma,
"Weight Normalization", NeurIPS 2016). `kernel` is then a tensor computed from the two.
"""

import keras
import tensorflow as tf


def same_pad_before(size, kernel, stride):
    """Padding TensorFlow's "SAME" puts before an input of length `size` (`(total) // 2`)."""
    out = -(-size // stride)
    return max((out - 1) * stride + kernel - size, 0) // 2


def _pair(value, name):
    try:
        pair = (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"`{name}` must be an int or a pair of ints; got {value!r}.")
    return pair


def _check_valid(kernel_size, valid_rows, valid_cols):
    for name, (start, stop), size in (("valid_rows", valid_rows, kernel_size[0]), ("valid_cols", valid_cols, kernel_size[1])):
        if not 0 <= start < stop <= size:
            raise ValueError(f"`{name}` must be (start, stop) with 0 <= start < stop <= {size}; got {(start, stop)}.")


class _WeightNormalized(keras.layers.Layer):
    """A layer with a `kernel` and a `bias`, the kernel optionally weight-normalised.

    With `weight_norm`, the variables are `v` (stored under the name "kernel"), `bias` and `g`, and
    `kernel = g * v / ||v||`, the norm over every axis but the output filters'. `g` starts at `||v||`, so
    the layer starts as the plain one would; a data-dependent initialisation pass (the model's
    `initialize_from_data`) sets `g` and `bias` so that the output has zero mean and unit variance per filter on
    a batch. Subclasses create their weights with `_add_kernel_and_bias` and compute `_output(linear)`.
    """

    def __init__(self, weight_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.weight_norm = bool(weight_norm)
        self._initializing = False  # Set by the model for its one data-dependent initialisation pass.

    def _add_kernel_and_bias(self, shape, filter_axis):
        self._filter_axis = filter_axis % len(shape)
        self._norm_axes = [axis for axis in range(len(shape)) if axis != self._filter_axis]
        self._v = self.add_weight(name="kernel", shape=shape, initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(shape[self._filter_axis],), initializer="zeros")
        if self.weight_norm:
            self.g = self.add_weight(name="g", shape=(shape[self._filter_axis],), initializer="ones")
            self.g.assign(tf.sqrt(tf.reduce_sum(tf.square(self._v), axis=self._norm_axes)))

    def _direction(self):
        return tf.nn.l2_normalize(self._v, axis=self._norm_axes)

    @property
    def kernel(self):
        """The kernel the layer applies: the variable itself, or `g * v / ||v||` with `weight_norm`."""
        if not self.weight_norm:
            return self._v
        shape = [1] * len(self._v.shape)
        shape[self._filter_axis] = -1
        return self._direction() * tf.reshape(self.g, shape)

    def _output(self, linear):
        """`linear(kernel) + bias`, `linear` the layer's bias-free map of a kernel. In the initialisation pass,
        first sets `g` and `bias` from the statistics of `linear(v / ||v||)` on this batch."""
        if not self._initializing:
            return tf.nn.bias_add(linear(self.kernel), self.bias)
        outputs = linear(self._direction())
        mean, variance = tf.nn.moments(outputs, axes=list(range(len(outputs.shape) - 1)))
        scale = tf.math.rsqrt(variance + 1e-10)  # The epsilon of tfp.layers.weight_norm.
        self.g.assign(scale)
        self.bias.assign(-mean * scale)
        return (outputs - mean) * scale

    def get_config(self):
        config = super().get_config()
        config["weight_norm"] = self.weight_norm
        return config


@keras.saving.register_keras_serializable(package="zoo")
class WeightNormDense(_WeightNormalized):
    """A dense layer on the last axis with a weight-normalised kernel (`weight_norm=False`: a plain one).

    PixelCNN++'s skip and output projections when the model is built with `weight_norm=True`.

    Args:
        units: output features.
        weight_norm: keep the kernel as `g * v / ||v||`. Default True.

    Example:
        >>> projection = WeightNormDense(32)
        >>> projection(tf.zeros([2, 28, 28, 64])).shape               # (2, 28, 28, 32)

    References:
        Salimans & Kingma, "Weight Normalization: A Simple Reparameterization to Accelerate Training of Deep
        Neural Networks", NeurIPS 2016.
    """

    def __init__(self, units, weight_norm=True, **kwargs):
        super().__init__(weight_norm=weight_norm, **kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self._add_kernel_and_bias((int(input_shape[-1]), self.units), filter_axis=-1)

    def call(self, inputs):
        return self._output(lambda kernel: keras.ops.matmul(inputs, kernel))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config


def dense_layer(units, weight_norm, name=None):
    """A `WeightNormDense` with `weight_norm`, else a plain `keras.layers.Dense` (what models saved before
    weight normalisation hold)."""
    return WeightNormDense(units, name=name) if weight_norm else keras.layers.Dense(units, name=name)


class _ShiftedBase(_WeightNormalized):
    def __init__(self, filters, kernel_size, valid_rows=None, valid_cols=None, strides=1, weight_norm=False, **kwargs):
        super().__init__(weight_norm=weight_norm, **kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.valid_rows = (0, self.kernel_size[0]) if valid_rows is None else _pair(valid_rows, "valid_rows")
        self.valid_cols = (0, self.kernel_size[1]) if valid_cols is None else _pair(valid_cols, "valid_cols")
        self.strides = _pair(strides, "strides")
        _check_valid(self.kernel_size, self.valid_rows, self.valid_cols)
        self.taps = (self.valid_rows[1] - self.valid_rows[0], self.valid_cols[1] - self.valid_cols[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "valid_rows": self.valid_rows,
                "valid_cols": self.valid_cols,
                "strides": self.strides,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class ShiftedConv2D(_ShiftedBase):
    """A "same"-padded convolution of which only the taps in a rectangle of the kernel exist.

    Equal to `Conv2D(filters, kernel_size, strides, padding="same")` with every tap outside rows
    `valid_rows` and columns `valid_cols` (half-open ranges) fixed at zero, which is how `tfd.PixelCNN`
    writes PixelCNN++'s down-shifted and down-right-shifted convolutions. Only the valid `(rows, cols)`
    rectangle is a weight. Output `o` along an axis reads inputs `o * stride + offset + t`,
    `t = 0 .. taps - 1`, with `offset` from `offsets` (zero outside the image).

    Args:
        filters: output channels.
        kernel_size: int or `(kh, kw)` of the full "same" kernel.
        valid_rows: `(start, stop)` kernel rows that exist. Default all.
        valid_cols: `(start, stop)` kernel columns that exist. Default all.
        strides: int or pair. Default 1.
        weight_norm: keep the kernel as `g * v / ||v||` (see the module docstring). Default False.

    Example:
        >>> up = ShiftedConv2D(32, (3, 3), valid_rows=(0, 2))        # rows above and the current one
        >>> features = up(tf.zeros([2, 28, 28, 8]))

    References:
        Salimans, Karpathy, Chen & Kingma, "PixelCNN++", ICLR 2017 (down_shifted_conv2d).
    """

    def build(self, input_shape):
        self._add_kernel_and_bias(self.taps + (int(input_shape[-1]), self.filters), filter_axis=-1)

    def offsets(self, input_size):
        """`(row, col)` offset of the first tap, for an input of spatial size `(height, width)`."""
        return tuple(
            valid[0] - same_pad_before(n, k, s)
            for n, k, s, valid in zip(input_size, self.kernel_size, self.strides, (self.valid_rows, self.valid_cols))
        )

    def output_size(self, input_size):
        return tuple(-(-n // s) for n, s in zip(input_size, self.strides))

    def call(self, inputs):
        size = tuple(int(d) for d in inputs.shape[1:3])
        out = self.output_size(size)
        x = inputs
        for axis, (n, o, s, t, offset) in enumerate(zip(size, out, self.strides, self.taps, self.offsets(size))):
            before = -offset
            after = (o - 1) * s + t - n - before
            x = _pad_or_crop(x, axis + 1, before, after)
        return self._output(lambda kernel: tf.nn.conv2d(x, kernel, strides=self.strides, padding="VALID"))

    def call_on_rows(self, strip):
        """One output row `(batch, out_width, filters)` from the `taps[0]` input rows it reads (rows outside
        the image as zeros), `strip` `(batch, taps[0], width, channels)`: the cached sampler's row step."""
        width = int(strip.shape[2])
        s, t, offset = self.strides[1], self.taps[1], self.offsets((self.kernel_size[0], width))[1]
        out = -(-width // s)
        x = _pad_or_crop(strip, 2, -offset, (out - 1) * s + t - width + offset)
        outputs = tf.nn.conv2d(x, self.kernel, strides=(1, s), padding="VALID")[:, 0]
        return tf.nn.bias_add(outputs, self.bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_size(input_shape[1:3]) + (self.filters,)


@keras.saving.register_keras_serializable(package="zoo")
class ShiftedConv2DTranspose(_ShiftedBase):
    """A "same"-padded transposed convolution of which only the taps in a rectangle of the kernel exist.

    Equal to `Conv2DTranspose(filters, kernel_size, strides, padding="same")` (output `stride` times the
    input) with the taps outside `valid_rows` x `valid_cols` fixed at zero: PixelCNN++'s up-sampling.
    Input `i` along an axis adds into outputs `i * stride + offset + t`, `t = 0 .. taps - 1`.

    Args:
        filters, kernel_size, valid_rows, valid_cols, strides, weight_norm: as `ShiftedConv2D`; strides
            default 2.

    Example:
        >>> upsample = ShiftedConv2DTranspose(32, (2, 4), valid_cols=(0, 3), strides=2)
        >>> upsample(tf.zeros([2, 14, 14, 32])).shape                # (2, 28, 28, 32)

    References:
        Salimans, Karpathy, Chen & Kingma, "PixelCNN++", ICLR 2017 (down_shifted_deconv2d).
    """

    def __init__(self, filters, kernel_size, valid_rows=None, valid_cols=None, strides=2, **kwargs):
        super().__init__(filters, kernel_size, valid_rows, valid_cols, strides, **kwargs)

    def build(self, input_shape):
        # (kh, kw, out, in), the layout of Keras' Conv2DTranspose.
        self._add_kernel_and_bias(self.taps + (self.filters, int(input_shape[-1])), filter_axis=-2)

    def offsets(self, input_size):
        """`(row, col)` output offset of the first tap, for an input of spatial size `(height, width)`."""
        return tuple(
            valid[0] - same_pad_before(n * s, k, s)
            for n, k, s, valid in zip(input_size, self.kernel_size, self.strides, (self.valid_rows, self.valid_cols))
        )

    def output_size(self, input_size):
        return tuple(n * s for n, s in zip(input_size, self.strides))

    def call(self, inputs):
        size = tuple(int(d) for d in inputs.shape[1:3])
        full = [(n - 1) * s + t for n, s, t in zip(size, self.strides, self.taps)]
        batch = tf.shape(inputs)[0]

        def linear(kernel):
            y = tf.nn.conv2d_transpose(
                inputs, kernel, tf.stack([batch, full[0], full[1], self.filters]), self.strides, padding="VALID"
            )
            for axis, (o, f, offset) in enumerate(zip(self.output_size(size), full, self.offsets(size))):
                y = _pad_or_crop(y, axis + 1, offset, o - f - offset)
            return y

        return self._output(linear)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_size(input_shape[1:3]) + (self.filters,)


def _pad_or_crop(x, axis, before, after):
    """Pads `axis` with zeros (positive amounts) or crops it (negative amounts), before and after."""
    size = x.shape[axis]
    begin, end = max(-before, 0), size - max(-after, 0)
    if begin > 0 or end < size:
        # A `Slice`, not `x[...]`: on CPU the gradient of a `StridedSlice` (even a full one) took 14% of a
        # training step, a `Slice`'s gradient is a cheap `Pad`.
        starts, sizes = [0] * len(x.shape), [-1] * len(x.shape)
        starts[axis], sizes[axis] = begin, end - begin
        x = tf.slice(x, starts, sizes)
    paddings = [[0, 0]] * len(x.shape)
    paddings[axis] = [max(before, 0), max(after, 0)]
    return tf.pad(x, paddings) if before > 0 or after > 0 else x


def concat_elu(x):
    """`elu([x, -x])` on the channel axis: PixelCNN++'s activation (keeps both signs' information)."""
    return tf.nn.elu(tf.concat([x, -x], axis=-1))


@keras.saving.register_keras_serializable(package="zoo")
class GatedResnet(keras.layers.Layer):
    """PixelCNN++'s gated ResNet block on one stack.

        c1 = conv_1(concat_elu(x)) [+ skip_dense(concat_elu(skip))]
        c2 = conv_2(dropout(concat_elu(c1))) [+ class_projection(one_hot(label))]
        out = x + a * sigmoid(b),   (a, b) = split(c2)

    `conv_1` and `conv_2` are `ShiftedConv2D`s with the stack's kernel geometry, so the block keeps its
    stack's causality.

    Args:
        filters: channels of the stack.
        kernel_size, valid_rows, valid_cols: geometry of the stack's convolutions.
        skip: whether a skip input (the other stack or the down pass) is added after `conv_1`.
        dropout_p: dropout rate before `conv_2` (training only).
        num_classes: classes of the label added before the gate, or None.
        weight_norm: weight-normalise both convolutions and the skip projection. Default False.

    Example:
        >>> block = GatedResnet(32, (3, 3), (0, 2), (0, 3))
        >>> out = block(tf.zeros([2, 8, 8, 32]))

    References:
        Salimans, Karpathy, Chen & Kingma, "PixelCNN++", ICLR 2017, section 2.4 and figure 2.
    """

    def __init__(
        self, filters, kernel_size, valid_rows, valid_cols, skip=False, dropout_p=0.0, num_classes=None,
        weight_norm=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.skip, self.dropout_p = int(filters), kernel_size, skip, dropout_p
        self.valid_rows, self.valid_cols, self.num_classes = valid_rows, valid_cols, num_classes
        self.weight_norm = bool(weight_norm)
        shifted = dict(valid_rows=valid_rows, valid_cols=valid_cols, weight_norm=self.weight_norm)
        self.conv_1 = ShiftedConv2D(filters, kernel_size, name="conv_1", **shifted)
        self.skip_dense = dense_layer(filters, self.weight_norm, name="skip") if skip else None
        self.dropout = keras.layers.Dropout(dropout_p)
        self.conv_2 = ShiftedConv2D(2 * filters, kernel_size, name="conv_2", **shifted)
        self.class_projection = (
            keras.layers.Dense(2 * filters, kernel_initializer="random_normal", name="class_projection")
            if num_classes else None
        )

    def build(self, x_shape, skip_shape=None, class_vector_shape=None):
        self.conv_1.build(tuple(x_shape[:-1]) + (2 * x_shape[-1],))
        if self.skip_dense is not None:
            self.skip_dense.build(tuple(x_shape[:-1]) + (2 * skip_shape[-1],))
        self.conv_2.build(tuple(x_shape[:-1]) + (2 * self.filters,))
        if self.class_projection is not None:
            self.class_projection.build((None, self.num_classes))
        self.built = True

    def call(self, x, skip=None, class_vector=None, training=False):
        c = self.conv_1(concat_elu(x))
        if self.skip_dense is not None:
            c = c + self.skip_dense(concat_elu(skip))
        c = self.conv_2(self.dropout(concat_elu(c), training=training))
        if self.class_projection is not None:
            c = c + self.class_projection(class_vector)[:, None, None, :]
        a, b = tf.split(c, 2, axis=-1)
        return x + a * tf.sigmoid(b)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "valid_rows": self.valid_rows,
                "valid_cols": self.valid_cols,
                "skip": self.skip,
                "dropout_p": self.dropout_p,
                "num_classes": self.num_classes,
                "weight_norm": self.weight_norm,
            }
        )
        return config
