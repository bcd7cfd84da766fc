"""`Preprocessing`: how raw uint8 images become each family's model inputs."""

import dataclasses

import tensorflow as tf

from zoo import ops


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How raw uint8 images become model inputs.

    Args:
        kind: "levels" (int32 in [0, num_levels - 1]; autoregressive models and VAEs), "unit" (float32 in
            [0, 1]) or "symmetric" (float32 in [-1, 1]; GANs).
        num_levels: quantisation levels for "levels", 2 to 256. Level `floor(x * num_levels / 256)` of a
            pixel `x` in 0..255, so 2 levels is a binarization at the fixed threshold 0.5.
        binarize: with `num_levels=2`, "fixed" (threshold 0.5) or "stochastic" (each pixel is 1 with
            probability x / 255, drawn anew every epoch; the dynamic binarization of the VAE literature).
    """

    kind: str = "unit"
    num_levels: int = 256
    binarize: str = "fixed"

    def __post_init__(self):
        if self.kind not in ops.IMAGE_KINDS:
            raise ValueError(f"`kind` must be one of {ops.IMAGE_KINDS}; got {self.kind!r}.")
        if not isinstance(self.num_levels, int) or not 2 <= self.num_levels <= 256:
            raise ValueError(f"`num_levels` must be an int in [2, 256]; got {self.num_levels!r}.")
        if self.binarize not in ("fixed", "stochastic"):
            raise ValueError(f"`binarize` must be 'fixed' or 'stochastic'; got {self.binarize!r}.")
        if self.binarize == "stochastic" and not (self.kind == "levels" and self.num_levels == 2):
            raise ValueError("`binarize='stochastic'` needs kind='levels' with num_levels=2.")

    @property
    def stochastic(self):
        return self.binarize == "stochastic"

    def __call__(self, image, seed=None):
        """Maps one uint8 image (or batch) to the model representation; `seed` only for stochastic binarization."""
        x = tf.cast(image, tf.float32)
        if self.kind == "unit":
            return x / 255.0
        if self.kind == "symmetric":
            return x / 127.5 - 1.0
        if self.stochastic:
            return tf.cast(tf.random.stateless_uniform(tf.shape(x), seed) * 255.0 < x, tf.int32)
        return tf.cast(tf.math.floor(x * self.num_levels / 256.0), tf.int32)

    def to_unit(self, images):
        """Maps model-representation images back to floats in [0, 1] for display."""
        x = tf.cast(images, tf.float32)
        if self.kind == "unit":
            return x
        if self.kind == "symmetric":
            return (x + 1.0) / 2.0
        return x / float(self.num_levels - 1)
