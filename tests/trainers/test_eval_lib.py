"""The evaluation library and CLI on tiny models trained for a few real Fashion-MNIST steps."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from trainers import eval_lib, train_lib

pytestmark = pytest.mark.slow

TINY = {
    "vae": {"latent_dim": 4, "filters": [8, 16]},
    "gan": {"latent_dim": 8, "hidden_units": [32, 32]},
    "pixel_cnn": {"filters": 8, "num_blocks": 1, "output_filters": 8},
}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    dirs = {}
    for name, kwargs in TINY.items():
        workdir = str(tmp_path_factory.mktemp(name))
        train_lib.train_and_evaluate(train_lib.TrainConfig(
            model=name, workdir=workdir, epochs=1, steps_per_epoch=3, batch_size=32, train_take=512,
            eval_take=32, num_grid_samples=0, model_kwargs=kwargs, verbose=0,
        ))
        dirs[name] = workdir
    return dirs


def _config(trained_workdir, **overrides):
    return eval_lib.EvalConfig(**{"workdir": trained_workdir, "take": 64, "num_samples": 40, "iwae_k": 8, "batch_size": 32, **overrides})


def test_vae_reports_elbo_and_a_tighter_importance_weighted_bound(workdirs):
    result = eval_lib.evaluate(_config(workdirs["vae"]))
    lik = result["likelihood"]
    assert lik["images"] == 64 and lik["iwae_k"] == 8
    assert lik["elbo_nats"] < 0 and lik["iwae_nats"] < 0
    # With k = 8 the bound sits above the one-sample ELBO on average, even for a barely trained model.
    assert lik["iwae_nats"] > lik["elbo_nats"]
    assert lik["elbo_bits_per_dim"] == pytest.approx(-lik["elbo_nats"] / (784 * np.log(2)))
    assert json.loads(open(os.path.join(workdirs["vae"], "eval.json")).read())["likelihood"] == lik


def test_autoregressive_nll_matches_keras_evaluate(workdirs):
    result = eval_lib.evaluate(_config(workdirs["pixel_cnn"], num_samples=0))
    assert "quality" not in result
    model, _ = eval_lib.load_trained_model(workdirs["pixel_cnn"])
    train_cfg = eval_lib.training_config(workdirs["pixel_cnn"])
    from trainers import data

    images = data.example_batch("fashion_mnist", "test", train_cfg.preprocessing(), batch_size=64)[0]
    expected = -float(np.mean(model.log_prob(images).numpy()))
    assert result["likelihood"]["nll_nats"] == pytest.approx(expected, rel=1e-5)
    assert result["likelihood"]["nll_bits_per_dim"] == pytest.approx(expected / (784 * np.log(2)), rel=1e-5)


def test_sample_quality_sits_above_its_real_against_real_floor(workdirs):
    result = eval_lib.evaluate(_config(workdirs["gan"]))
    assert "likelihood" not in result
    quality = result["quality"]
    assert quality["num_samples"] == 40 and quality["features"].startswith("fashion_mnist classifier")
    # Three training steps make noise: far from real images, unlike a second real set.
    assert quality["fid"] > quality["floor"]["fid"] > 0
    assert quality["kid_mean"] > quality["floor"]["kid_mean"]
    for key in ("precision", "recall"):
        assert 0 <= quality[key] <= 1 and 0 <= quality["floor"][key] <= 1
    assert quality["floor"]["reference_split"] == "train"


def test_a_seed_reproduces_the_scores(workdirs):
    a = eval_lib.evaluate(_config(workdirs["gan"], seed=3))["quality"]
    b = eval_lib.evaluate(_config(workdirs["gan"], seed=3))["quality"]
    assert a["fid"] == b["fid"] and a["kid_mean"] == b["kid_mean"]


def test_an_interrupted_run_is_scored_from_its_newest_checkpoint(workdirs, tmp_path):
    workdir = str(tmp_path / "cut")
    shutil.copytree(workdirs["pixel_cnn"], workdir)
    os.remove(os.path.join(workdir, "model.keras"))
    model, path = eval_lib.load_trained_model(workdir)
    assert path.endswith("epoch_0001.keras") and model.num_levels == 2


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"workdir": "/nonexistent/run"}, "workdir"),
        ({"iwae_k": 0}, "iwae_k"),
        ({"num_samples": 1}, "num_samples"),
        ({"take": 0}, "take"),
        ({"batch_size": 2.5}, "batch_size"),
    ],
)
def test_bad_configs_get_clear_errors(workdirs, overrides, match):
    with pytest.raises(ValueError, match=match):
        eval_lib.evaluate(_config(workdirs["vae"], **overrides))


def test_directories_without_a_run_or_a_model_are_refused(tmp_path, workdirs):
    with pytest.raises(ValueError, match="config.json"):
        eval_lib.evaluate(_config(str(tmp_path)))
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(os.path.join(workdirs["vae"], "config.json"), empty / "config.json")
    with pytest.raises(ValueError, match="no trained model"):
        eval_lib.evaluate(_config(str(empty)))


def test_cli_prints_one_json_line_and_fails_cleanly(workdirs, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    args = [sys.executable, "-m", "trainers.evaluate", f"--workdir={workdirs['pixel_cnn']}", "--take=32", "--num_samples=0"]
    run = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [l for l in run.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1 and json.loads(lines[0])["likelihood"]["images"] == 32
    bad = subprocess.run(args[:3] + [f"--workdir={tmp_path}"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert bad.returncode == 1 and "error:" in bad.stderr and "Traceback" not in bad.stderr
