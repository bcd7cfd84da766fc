"""`from_preset` for zoo model classes."""


class PresetMixin:
    """Gives a model class `from_preset`, keras-hub style: `DCGAN.from_preset("fashion_mnist")`.

    A base class of `VAE`, `GAN` (and so `DCGAN`), `AutoregressiveModel` (`PixelCNN`, `GatedPixelCNN`,
    `RowLSTM`, `DiagonalBiLSTM`) and `FeatureClassifier`. It adds no state and no other method.

    Example:
        >>> from zoo.pixel.pixel_cnn import PixelCNN
        >>> model = PixelCNN.from_preset("fashion_mnist_256levels")
        >>> model.log_prob(test_levels)
    """

    @classmethod
    def from_preset(cls, preset, directory=None):
        """The pretrained model `preset` of this class, its weights verified against the manifest first.

        Args:
            preset: the preset's name without its model prefix, e.g. "fashion_mnist" (the class's own presets),
                or a full name such as "dcgan_fashion_mnist" (a preset of this class or of a subclass).
            directory: a directory of manifests and weights files to use instead of the shipped ones.

        Returns:
            An instance of this class (or of a subclass, for a full name) with the preset's weights.

        Raises:
            PresetError: no such preset for this class, or a file made for another architecture.
            WeightsChecksumError: the weights file is truncated, corrupted or replaced.
            FileNotFoundError: the weights file is missing.
        """
        from zoo.presets import registry  # At call time: model modules import this mixin while zoo.presets loads.

        return registry.resolve_for_class(cls, preset, directory).load()
