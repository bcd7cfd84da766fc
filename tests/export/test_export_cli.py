"""The export CLI and its library function: config checks, workdir export, and the command end to end."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import export, saved_model, serving_c_api
from zoo.gan.gan import GAN
from zoo.vae.vae import VAE

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _workdir(path, model, name):
    os.makedirs(path, exist_ok=True)
    model.save(os.path.join(path, "model.keras"))
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"model": name}, f)
    return str(path)


def test_config_refuses_bad_combinations(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        export.ExportConfig(export_dir=str(tmp_path)).resolved()
    with pytest.raises(ValueError, match="exactly one"):
        export.ExportConfig(export_dir=str(tmp_path), workdir="a", model_path="b.keras").resolved()
    with pytest.raises(ValueError, match="`name` is required"):
        export.ExportConfig(export_dir=str(tmp_path), model_path="b.keras").resolved()
    with pytest.raises(ValueError, match="No model"):
        export.ExportConfig(export_dir=str(tmp_path), model_path=str(tmp_path / "missing.keras"), name="m").resolved()
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ValueError, match="config.json"):
        export.ExportConfig(export_dir=str(tmp_path), workdir=str(tmp_path / "empty")).resolved()


def test_export_model_from_a_workdir_and_a_keras_file(tmp_path):
    model = GAN(image_shape=(8, 8, 1), latent_dim=2, hidden_units=(4,), seed=0)
    workdir = _workdir(tmp_path / "run", model, "gan")
    base = str(tmp_path / "models")
    result = export.export_model(export.ExportConfig(export_dir=base, workdir=workdir))
    assert result["export_dir"] == os.path.join(base, "gan", "1") and result["version"] == 1
    assert result["signatures"] == ["serving_default", "sample", "generate", "interpolate"]
    result = export.export_model(
        export.ExportConfig(export_dir=base, model_path=os.path.join(workdir, "model.keras"), name="other", version=4)
    )
    assert result["export_dir"] == os.path.join(base, "other", "4")
    with open(result["models_config"]) as f:
        assert f.read().count("config {") == 2
    restored = tf.saved_model.load(result["export_dir"]).signatures["serving_default"]
    np.testing.assert_allclose(restored(seed=tf.constant([3], tf.int64))["images"], model.sample(1, seed=3), atol=1e-6)


@pytest.mark.slow
def test_cli_end_to_end_on_fashion_mnist(tmp_path, fashion_mnist_batch):
    """Trains a tiny VAE a few steps on real Fashion-MNIST, exports it with the CLI, serves it through the C API."""
    images, _ = fashion_mnist_batch
    levels = (images >= 128).astype(np.int32)
    model = VAE(image_shape=(28, 28, 1), latent_dim=2, filters=(4, 8), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(levels, batch_size=16, epochs=1, verbose=0)
    workdir = _workdir(tmp_path / "run", model, "vae")
    base = str(tmp_path / "models")
    command = [sys.executable, "-m", "export.export", f"--workdir={workdir}", f"--export_dir={base}", "--name=vae",
               "--num_importance_samples=5"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = lambda *extra: subprocess.run([*command, *extra], capture_output=True, text=True, env=env, timeout=300, cwd=_ROOT)
    done = run()
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    path = os.path.join(base, "vae", "1")
    assert result["export_dir"] == path and result["family"] == "vae"
    for name in ("saved_model.pb", "variables", saved_model.WARMUP_FILE):
        assert os.path.exists(os.path.join(path, name)), name
    assert os.path.isfile(os.path.join(base, "models.config"))
    out = serving_c_api.run_signature(path, "serving_default", {"seed": np.array([0, 1], np.int64)})
    np.testing.assert_array_equal(out["levels"], np.concatenate([model.sample(1, seed=s) for s in (0, 1)]))
    bound = serving_c_api.run_signature(path, "log_prob_bound", {"images": levels[:2], "seed": np.array([7, 8])})
    reference = [model.log_prob_bound(levels[i : i + 1], num_samples=5, seed=s)[0] for i, s in enumerate((7, 8))]
    np.testing.assert_allclose(bound["log_prob_bound"], reference, rtol=1e-5)

    again = run()
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["version"] == 2
    bad = run("--version=1")
    assert bad.returncode == 1 and "already exists" in bad.stderr
