"""The registry of trainable zoo models: one `ModelSpec` per CLI name.

A spec says which class to build, with which default hyperparameters, how the data must be preprocessed,
which optimizers `compile` takes, and the default training budget. The trainer builds every model the same
way, so adding a model is adding a spec here.

Default budgets are sized for a 2-core CPU (a few minutes per model; `benchmarks/RESULTS.md` has the
measured times): the autoregressive models train for one epoch by default (Gated PixelCNN with 32 filters,
PixelCNN++ at the size of the `tfd.PixelCNN` reference). Raise `--epochs`, `--steps_per_epoch` or the model's
width on faster hardware.

The contract a registered model class keeps (what `trainers.train_lib` relies on):
- `Model(image_shape=(H, W, C), num_classes=None | int, **hyperparameters)` builds all its weights in
  `__init__` (so `model.built` is True and a checkpoint can be restored before the first step);
- `model.compile(**{name: optimizer for name in spec.optimizers}, **spec.compile_kwargs)`, and `compile`
  builds every optimizer it is given on the variables it will update;
- `model.fit(ds)` where `ds` yields `images` (unconditional) or `(images, labels)` (conditional), with images
  in the representation of `spec.preprocessing` (see `trainers.data.Preprocessing`);
- `model.evaluate(ds)` works on the same data (a `test_step` with the same metrics, no updates);
- `model.sample(num_samples, seed=None, labels=None)` returns images in that same representation.

Unpaired translation models (`unpaired=True`, CycleGAN) differ in two places: `fit` and `evaluate` take
`(images_a, images_b)` batches of two domains (`trainers.data.load_unpaired`), and instead of `sample` they
have `translate(images, direction="a2b" | "b2a")` and `reconstruct(images, direction)`.
"""

import dataclasses
import importlib
from typing import Any, Mapping, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How the trainer builds, compiles and feeds one registered model.

    Args:
        name: the CLI name (`--model=NAME`).
        class_path: `"module:ClassName"` of the `keras.Model` subclass.
        description: one line for `--help` and error messages.
        preprocessing: data representation the model expects: "levels", "unit" or "symmetric".
        num_levels: default quantisation levels for "levels" models (2 = binarized).
        conditional: whether the model is conditioned on class labels.
        model_kwargs: default constructor hyperparameters (overridden by the config).
        optimizers: names of the optimizer arguments of `compile` (one per player for GANs).
        adam_kwargs: Adam settings other than the learning rate (e.g. `beta_1=0.5` for GANs).
        compile_kwargs: further `compile` arguments (e.g. the GAN loss).
        learning_rate: default learning rate.
        batch_size: default batch size.
        epochs: default number of epochs for the CLI's default budget.
        steps_per_epoch: default steps per epoch (None = the whole training split).
        unpaired: trained on unpaired `(images_a, images_b)` batches of two domains (image translation).
    """

    name: str
    class_path: str
    description: str
    preprocessing: str
    num_levels: Optional[int] = None
    conditional: bool = False
    model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    optimizers: Tuple[str, ...] = ("optimizer",)
    adam_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    compile_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    learning_rate: float = 1e-3
    batch_size: int = 128
    epochs: int = 1
    steps_per_epoch: Optional[int] = None
    unpaired: bool = False

    def model_class(self):
        """Imports and returns the model class."""
        module, _, attr = self.class_path.partition(":")
        return getattr(importlib.import_module(module), attr)


_GAN_ADAM = {"beta_1": 0.5, "beta_2": 0.999}

_SPECS = (
    ModelSpec(
        name="vae",
        class_path="zoo.vae.vae:VAE",
        description="Convolutional VAE with a Bernoulli likelihood on binarized images (Kingma & Welling, 2014).",
        preprocessing="levels",
        num_levels=2,
        model_kwargs={"latent_dim": 16},
        epochs=5,
    ),
    ModelSpec(
        name="cvae",
        class_path="zoo.vae.vae:VAE",
        description="Class-conditional VAE on binarized images.",
        preprocessing="levels",
        num_levels=2,
        conditional=True,
        model_kwargs={"latent_dim": 16},
        epochs=5,
    ),
    ModelSpec(
        name="gan",
        class_path="zoo.gan.gan:GAN",
        description="Fully connected GAN, non-saturating loss (Goodfellow et al., 2014).",
        preprocessing="symmetric",
        optimizers=("d_optimizer", "g_optimizer"),
        adam_kwargs=_GAN_ADAM,
        learning_rate=2e-4,
        epochs=5,
    ),
    ModelSpec(
        name="dcgan",
        class_path="zoo.gan.dcgan:DCGAN",
        description="Deep convolutional GAN (Radford et al., 2016).",
        preprocessing="symmetric",
        optimizers=("d_optimizer", "g_optimizer"),
        adam_kwargs=_GAN_ADAM,
        learning_rate=2e-4,
        epochs=5,
    ),
    ModelSpec(
        name="cdcgan",
        class_path="zoo.gan.dcgan:DCGAN",
        description="Class-conditional DCGAN (Mirza & Osindero, 2014; Radford et al., 2016).",
        preprocessing="symmetric",
        conditional=True,
        optimizers=("d_optimizer", "g_optimizer"),
        adam_kwargs=_GAN_ADAM,
        learning_rate=2e-4,
        epochs=5,
    ),
    ModelSpec(
        name="wgan_gp",
        class_path="zoo.gan.dcgan:DCGAN",
        description="DCGAN architecture trained as a Wasserstein GAN with gradient penalty (Gulrajani et al., 2017).",
        preprocessing="symmetric",
        model_kwargs={"d_steps": 5, "discriminator_norm": "layer"},
        optimizers=("d_optimizer", "g_optimizer"),
        adam_kwargs={"beta_1": 0.0, "beta_2": 0.9},
        compile_kwargs={"loss": "wasserstein"},
        learning_rate=1e-4,
        epochs=5,
    ),
    ModelSpec(
        name="pixel_cnn",
        class_path="zoo.pixel.pixel_cnn:PixelCNN",
        description="PixelCNN with type-A/B masked convolutions (van den Oord et al., 2016).",
        preprocessing="levels",
        num_levels=2,
        epochs=3,
    ),
    ModelSpec(
        name="gated_pixel_cnn",
        class_path="zoo.pixel.gated_pixel_cnn:GatedPixelCNN",
        description="Gated PixelCNN with vertical and horizontal stacks (van den Oord et al., 2016).",
        preprocessing="levels",
        num_levels=2,
        model_kwargs={"filters": 32},
        epochs=2,
    ),
    ModelSpec(
        name="pixel_cnn_pp",
        class_path="zoo.pixel.pixel_cnn_pp:PixelCNNPlusPlus",
        description="PixelCNN++ with a discretized logistic mixture on 256 levels (Salimans et al., 2017).",
        preprocessing="levels",
        num_levels=256,
        # The config of the tfd.PixelCNN reference (benchmarks/tfp_pixel_cnn.py): CPU-sized. Plain kernels (faster
        # per step) started by the reference's data-dependent initialisation, which learns faster per step
        # (benchmarks/pixel_cnn_pp_benchmark.py --data_init).
        model_kwargs={
            "num_resnet": 1, "num_hierarchies": 2, "num_filters": 32, "num_logistic_mix": 5, "dropout_p": 0.0,
            "data_init": True,
        },
        epochs=1,
    ),
    ModelSpec(
        name="row_lstm",
        class_path="zoo.pixel.pixel_rnn:RowLSTM",
        description="PixelRNN Row LSTM (van den Oord et al., 2016).",
        preprocessing="levels",
        num_levels=2,
        epochs=1,
    ),
    ModelSpec(
        name="diagonal_bilstm",
        class_path="zoo.pixel.pixel_rnn:DiagonalBiLSTM",
        description="PixelRNN Diagonal BiLSTM (van den Oord et al., 2016).",
        preprocessing="levels",
        num_levels=2,
        epochs=1,
    ),
    ModelSpec(
        name="cyclegan",
        class_path="zoo.gan.cyclegan:CycleGAN",
        description="CycleGAN, unpaired translation between two domains (default: sneaker -> ankle boot) (Zhu et al., 2017).",
        preprocessing="symmetric",
        optimizers=("a2b_optimizer", "b2a_optimizer", "d_a_optimizer", "d_b_optimizer"),
        adam_kwargs=_GAN_ADAM,
        learning_rate=2e-4,
        batch_size=32,
        epochs=3,
        unpaired=True,
    ),
)

MODELS = {spec.name: spec for spec in _SPECS}


def get_spec(name):
    """Returns the `ModelSpec` registered as `name`; a `ValueError` lists the valid names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}. Valid names: {', '.join(sorted(MODELS))}.") from None
