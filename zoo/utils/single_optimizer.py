"""`compile` and its reload for zoo models trained by one optimizer (`VAE`, the autoregressive models)."""

import keras


class SingleOptimizerMixin:
    """Gives a `keras.Model` subclass a `compile` that builds its optimizer, and the matching reload.

    Building the optimizer at `compile` creates its state variables before the first step, so a backup
    (`trainers.callbacks.ResumableBackup`) can restore them before training resumes. Keras skips
    `compile_from_config` for a model that overrides `compile`, so the override comes with its own: without
    it a reloaded `.keras` model would not be compiled. Put it before `keras.Model` in the bases.

    Example:
        >>> class MyModel(SingleOptimizerMixin, keras.Model): ...
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))   # model.optimizer.built is True
    """

    def compile(self, optimizer="adam", **kwargs):
        """Compiles with `optimizer` (default Adam) and builds it, so its state can be restored before a step."""
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
