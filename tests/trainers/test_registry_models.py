"""Every registered model keeps the trainer's contract: a few real Fashion-MNIST steps through train_lib."""

import json
import os

import pytest

from trainers import registry, train_lib

pytestmark = pytest.mark.slow

# Small widths keep this a contract test, not a benchmark; the registry's defaults are measured in benchmarks/.
SMALL = {
    "vae": {"latent_dim": 4, "filters": [8, 16]},
    "cvae": {"latent_dim": 4, "filters": [8, 16]},
    "gan": {"latent_dim": 8, "hidden_units": [32, 32]},
    "dcgan": {"latent_dim": 8, "filters": 16},
    "cdcgan": {"latent_dim": 8, "filters": 16},
    "wgan_gp": {"latent_dim": 8, "filters": 16},
    "pixel_cnn": {"filters": 8, "num_blocks": 1, "output_filters": 8},
    "gated_pixel_cnn": {"filters": 4, "num_layers": 2, "output_filters": 8},
    "pixel_cnn_pp": {"num_resnet": 1, "num_hierarchies": 1, "num_filters": 4, "num_logistic_mix": 1},
    "row_lstm": {"hidden": 4, "num_layers": 1, "output_filters": 8},
    "diagonal_bilstm": {"hidden": 4, "num_layers": 1, "output_filters": 8},
    "cyclegan": {"filters": 2, "num_residual_blocks": 0, "discriminator_filters": 4},
}


def test_every_registered_model_has_a_small_config_here():
    assert set(SMALL) == set(registry.MODELS)


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_registered_model_trains_evaluates_and_samples(tmp_path, name):
    config = train_lib.TrainConfig(
        model=name, workdir=str(tmp_path), epochs=1, steps_per_epoch=2, batch_size=16, train_take=256,
        eval_take=32, num_grid_samples=2, model_kwargs=SMALL[name], verbose=0,
    )
    metrics = train_lib.train_and_evaluate(config)
    assert metrics["model"] == name and metrics["test"]
    assert all(isinstance(v, float) for v in metrics["test"].values())
    assert os.path.exists(metrics["samples_png"]) and os.path.exists(tmp_path / "model.keras")
    assert json.loads((tmp_path / "metrics.json").read_text())["parameters"] > 0
