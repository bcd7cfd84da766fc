"""A small CNN classifier whose penultimate layer is the feature space of FID, KID and precision/recall."""

import keras
import numpy as np
import tensorflow as tf

from zoo import ops
from zoo.presets.mixin import PresetMixin


@keras.saving.register_keras_serializable(package="zoo")
class FeatureClassifier(PresetMixin, keras.Model):
    """Convolutional image classifier used as the feature extractor of sample-quality metrics.

    FID and KID compare generated and real images through the activations of a network trained to recognise
    the data; the standard network, Inception-v3 on ImageNet, cannot be downloaded here and was never trained
    on 28x28 greyscale clothes. This classifier is trained on the dataset's own labels instead, and its
    embedding plays the role of Inception's pool3 features:

        x in [0, 1]^(H x W x C)  ->  [conv3x3 -> batch norm -> ReLU -> max-pool 2x2] for each of `filters`
                                 ->  flatten -> dense(feature_dim) -> batch norm -> ReLU      = features(x)
                                 ->  dropout -> dense(num_classes)                            = logits

    Trained with softmax cross-entropy on the logits, the features separate the classes, so a generator that
    drops a class, or draws blurry in-between items, moves measurably in this space. Scores are comparable
    only between runs that use the same weights (the shipped ones carry a SHA-256 in their manifest).

    Args:
        image_shape: `(height, width, channels)` of the input images. Default (28, 28, 1).
        num_classes: number of label classes. Default 10.
        filters: output channels of the convolution blocks, one 2x2 max-pool each. Default (32, 64, 128).
        feature_dim: width of the embedding (the penultimate layer). Default 128.
        dropout: dropout rate before the output layer, training only. Default 0.3.

    Example:
        >>> model = FeatureClassifier(image_shape=(28, 28, 1), num_classes=10)
        >>> model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ...               metrics=["accuracy"])
        >>> model.fit(unit_images_and_labels_dataset, epochs=8)
        >>> embeddings = model.features(images_in_0_1)    # (batch, 128) float32, for trainers.metrics.fid
        >>> logits = model(images_in_0_1)                  # (batch, 10)
        >>> shipped = FeatureClassifier.from_preset("fashion_mnist")   # the metrics' classifier

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
        NeurIPS 2017 (FID on a network's features). Ioffe & Szegedy, "Batch Normalization", ICML 2015.
        Xiao, Rasul & Vollgraf, "Fashion-MNIST", arXiv:1708.07747, 2017.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=10,
        filters=(32, 64, 128),
        feature_dim=128,
        dropout=0.3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        image_shape = ops.check_image_shape(image_shape)
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an int >= 2; got {num_classes!r}.")
        try:
            filters = tuple(int(f) for f in filters)
        except (TypeError, ValueError):
            raise TypeError(f"`filters` must be a sequence of positive ints; got {filters!r}.") from None
        if not filters or min(filters) < 1:
            raise ValueError(f"`filters` must be a non-empty sequence of positive ints; got {filters!r}.")
        if isinstance(feature_dim, bool) or not isinstance(feature_dim, (int, np.integer)) or feature_dim < 1:
            raise ValueError(f"`feature_dim` must be a positive int; got {feature_dim!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1); got {dropout!r}.")

        layers = [keras.Input(image_shape), keras.layers.Rescaling(2.0, offset=-1.0)]
        for width in filters:
            layers += [
                keras.layers.Conv2D(width, 3, padding="same", use_bias=False),
                # Synchronized: under tf.distribute the statistics are the global batch's, as on one device.
                keras.layers.BatchNormalization(synchronized=True),
                keras.layers.ReLU(),
                # "same" padding: any image size works, odd sizes keep their last row and column.
                keras.layers.MaxPooling2D(2, padding="same"),
            ]
        layers += [
            keras.layers.Flatten(),
            keras.layers.Dense(int(feature_dim), use_bias=False),
            keras.layers.BatchNormalization(synchronized=True),
            keras.layers.ReLU(),
        ]
        self.embedding = keras.Sequential(layers, name="embedding")
        self.head = keras.Sequential(
            [keras.Input((int(feature_dim),)), keras.layers.Dropout(dropout), keras.layers.Dense(int(num_classes))],
            name="head",
        )
        self.image_shape = image_shape
        self.num_classes = int(num_classes)
        self.filters = filters
        self.feature_dim = int(feature_dim)
        self.dropout = float(dropout)
        self.built = True

    def call(self, images, training=False):
        """Class logits of shape `(batch, num_classes)` for float images in [0, 1] (unchecked: traced code)."""
        return self.head(self.embedding(images, training=training), training=training)

    def _check(self, images, name="images"):
        return ops.check_images(images, image_shape=self.image_shape, kind="unit", name=name)

    def features(self, images, batch_size=500):
        """The penultimate-layer embedding, the feature space of FID, KID and precision/recall.

        Args:
            images: float images in [0, 1] of shape `(n, H, W, C)`, or a `tf.data.Dataset` yielding such
                batches (or `(images, labels)` pairs, whose labels are ignored).
            batch_size: images per forward pass for an array input (bounds memory). Default 500.

        Returns:
            float32 tensor of shape `(n, feature_dim)`, non-negative (post-ReLU), inference mode.
        """
        batch_size = ops.check_num_samples(batch_size, name="batch_size")
        if isinstance(images, tf.data.Dataset):
            chunks = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in images)
        else:
            images = self._check(images)
            chunks = (images[i : i + batch_size] for i in range(0, int(images.shape[0]), batch_size))
        outputs = [self.embedding(self._check(chunk), training=False) for chunk in chunks]
        if not outputs:
            return tf.zeros((0, self.feature_dim), tf.float32)
        return tf.concat(outputs, axis=0)

    def predict_classes(self, images):
        """Most likely class of each image, int32 of shape `(batch,)`; images checked as in `features`."""
        return tf.argmax(self(self._check(images), training=False), axis=-1, output_type=tf.int32)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "num_classes": self.num_classes,
                "filters": self.filters,
                "feature_dim": self.feature_dim,
                "dropout": self.dropout,
            }
        )
        return config
