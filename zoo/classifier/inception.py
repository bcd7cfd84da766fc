"""The standard Inception-v3 pool3 feature extractor of FID/KID, from a weights file the user supplies."""

import os

import keras

from zoo import ops

#: Inception-v3's input resolution.
INCEPTION_SIZE = 299

#: Width of the pool3 (global average pool) features.
INCEPTION_FEATURE_DIM = 2048


def inception_feature_extractor(weights_path, image_shape=(28, 28, 1)):
    """A model mapping images in [0, 1] to Inception-v3 pool3 features, the feature space of the usual FID.

    Pipeline: bilinear resize to 299x299 -> greyscale repeated to RGB (1-channel inputs) -> scaled to [-1, 1]
    (Inception's own preprocessing) -> `keras.applications.InceptionV3(include_top=False, pooling="avg")`
    -> 2048 features. Nothing is ever downloaded: the weights come from `weights_path`, Keras's ImageNet file
    without the top, `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`.

    These are the Keras application's ImageNet weights; the reference FID code (TTUR) uses the 2015 Inception
    graph, whose resize and weights differ slightly, so scores are close to but not digit-for-digit the
    published ones. Compare them with each other and with the real-vs-real floor computed the same way.

    Args:
        weights_path: path to the InceptionV3 no-top weights file (.h5).
        image_shape: `(height, width, channels)` of the input images, 1 or 3 channels. Default (28, 28, 1).

    Returns:
        A functional `keras.Model`; `model.predict(images_in_0_1, batch_size=50)` gives `(n, 2048)` features.

    Raises:
        FileNotFoundError: `weights_path` does not name a file.
        ValueError: a channel count other than 1 or 3.

    References:
        Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
        NeurIPS 2017.
    """
    if not isinstance(weights_path, (str, os.PathLike)):
        raise TypeError(f"`weights_path` must be a path to the InceptionV3 weights file; got {weights_path!r}.")
    weights_path = os.fspath(weights_path)
    if not os.path.isfile(weights_path):
        raise FileNotFoundError(
            f"InceptionV3 weights file not found: {weights_path}. Nothing is downloaded here: copy Keras's "
            "`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5` to this machine and pass its path, or use "
            "the shipped feature classifier (zoo.classifier.load_feature_classifier)."
        )
    image_shape = ops.check_image_shape(image_shape)
    if image_shape[-1] not in (1, 3):
        raise ValueError(f"`image_shape` must have 1 or 3 channels for Inception features; got {image_shape}.")
    inputs = keras.Input(image_shape, name="images")
    x = keras.layers.Resizing(INCEPTION_SIZE, INCEPTION_SIZE, interpolation="bilinear")(inputs)
    if image_shape[-1] == 1:
        x = keras.layers.Concatenate(axis=-1)([x, x, x])
    x = keras.layers.Rescaling(2.0, offset=-1.0)(x)
    base = keras.applications.InceptionV3(
        weights=weights_path, include_top=False, pooling="avg", input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3)
    )
    return keras.Model(inputs, base(x), name="inception_pool3")
