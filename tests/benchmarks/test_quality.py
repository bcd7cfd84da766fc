"""Long quality runs: configurations, one resumable command end to end, the rendered section and its plots."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from benchmarks import make_results, plot, quality
from trainers import presets_lib, registry
from zoo.pixel.pixel_cnn_pp import PixelCNNPlusPlus
from zoo import presets as zoo_presets


def test_every_run_resolves_with_its_learning_curve_switched_on():
    for name, run in quality.RUNS.items():
        cfg = quality.train_config(name, "/runs/q")
        assert cfg.workdir == os.path.join("/runs/q", name) and cfg.epochs == run.epochs
        # Whole epochs: a registry default budget (a short CLI epoch) must not leak into a quality run.
        assert cfg.steps_per_epoch == run.steps_per_epoch
        likelihood = registry.get_spec(run.model).preprocessing == "levels"
        assert cfg.validate_every_epoch == likelihood and cfg.eval_take is None
        # Every sampling generator is scored per epoch; a translation model draws no samples.
        assert likelihood or registry.get_spec(run.model).unpaired or cfg.quality_samples == 5000


def _within_the_issues_size_ratio(*names):
    """Whether runs `names` have parameter counts within 1.5x of each other (issue 20's comparable sizes)."""
    counts = [quality.parameter_count(n) for n in names]
    return max(counts) <= 1.5 * min(counts)


def test_autoregressive_runs_have_comparable_sizes_and_equal_epochs():
    names = ["pixel_cnn", "gated_pixel_cnn", "gated_pixel_cnn_wide", "row_lstm", "diagonal_bilstm", "pixel_cnn_pp"]
    assert len(names) >= 4 and _within_the_issues_size_ratio(*names)
    assert len({quality.RUNS[n].epochs for n in names}) == 1 and quality.RUNS[names[0]].epochs >= 10


def test_longer_runs_differ_from_the_runs_they_continue_in_their_epochs_alone():
    pairs = [(name, f"{name}_20epochs") for name in ("pixel_cnn", "gated_pixel_cnn_wide", "pixel_cnn_256levels",
                                                     "row_lstm_256levels", "gated_pixel_cnn_256levels",
                                                     "diagonal_bilstm_256levels")]
    for name, longer_name in pairs + [("wgan_gp", "wgan_gp_30epochs")]:
        shorter, longer = quality.RUNS[name], quality.RUNS[longer_name]
        assert longer.epochs == 2 * shorter.epochs
        assert dataclasses.replace(longer, epochs=shorter.epochs, note="") == dataclasses.replace(shorter, note="")


def test_the_averaging_run_differs_from_its_reference_in_the_averages_alone():
    averaged, plain = quality.RUNS["pixel_cnn_pp_256levels_ema"], quality.RUNS["pixel_cnn_pp_256levels"]
    assert averaged.ema_momentum == 0.999 and plain.ema_momentum is None
    assert dataclasses.replace(averaged, ema_momentum=None, note="") == dataclasses.replace(plain, note="")
    assert quality.train_config("pixel_cnn_pp_256levels_ema", "/runs/q").ema_momentum == 0.999


def test_the_depth_run_differs_from_its_reference_in_depth_and_width_alone_at_a_comparable_size():
    deep, shallow = quality.RUNS["row_lstm_256levels_deep"], quality.RUNS["row_lstm_256levels"]
    assert deep.model_kwargs["num_layers"] > shallow.model_kwargs["num_layers"]
    assert dataclasses.replace(deep, model_kwargs={}, note="") == dataclasses.replace(shallow, model_kwargs={}, note="")
    assert _within_the_issues_size_ratio("row_lstm_256levels_deep", "pixel_cnn_256levels")


def test_the_256_level_width_run_is_the_binarized_width_run_at_256_levels_at_a_comparable_size():
    wide, narrow = quality.RUNS["gated_pixel_cnn_wide_256levels"], quality.RUNS["gated_pixel_cnn_256levels"]
    assert dict(wide.model_kwargs) == dict(quality.RUNS["gated_pixel_cnn_wide"].model_kwargs)
    assert dataclasses.replace(wide, model_kwargs={}, note="") == dataclasses.replace(narrow, model_kwargs={}, note="")
    assert _within_the_issues_size_ratio("gated_pixel_cnn_wide_256levels", "pixel_cnn_256levels")


def test_the_critic_run_is_wgan_gp_without_normalisation_in_the_critic():
    run, reference = quality.RUNS["wgan_gp_unnormalised_critic"], quality.RUNS["wgan_gp"]
    assert dataclasses.replace(run, model_kwargs={}, note="") == dataclasses.replace(reference, note="")
    cfg, reference_cfg = (quality.train_config(n, "/q") for n in ("wgan_gp_unnormalised_critic", "wgan_gp"))
    assert reference_cfg.model_kwargs["discriminator_norm"] == "layer" and cfg.model_kwargs["discriminator_norm"] is None
    assert dict(cfg.model_kwargs, discriminator_norm="layer") == dict(reference_cfg.model_kwargs)


def test_the_optimiser_run_is_wgan_gp_but_for_the_dcgans_adam():
    run, reference = quality.RUNS["wgan_gp_dcgan_adam"], quality.RUNS["wgan_gp"]
    cfg, reference_cfg = quality.train_config("wgan_gp_dcgan_adam", "/q"), quality.train_config("wgan_gp", "/q")
    wgan, dcgan = registry.get_spec("wgan_gp"), registry.get_spec("dcgan")
    # Same class, model, game and budget ...
    assert wgan.class_path == dcgan.class_path and dict(run.model_kwargs) == dict(wgan.model_kwargs)
    assert run.loss == wgan.compile_kwargs["loss"] and reference.loss is None
    assert dataclasses.replace(run, model="wgan_gp", model_kwargs={}, loss=None, note="") == dataclasses.replace(
        reference, note=""
    )
    # ... and the DCGAN's optimiser instead of the paper's.
    assert (cfg.spec.learning_rate, dict(cfg.spec.adam_kwargs)) == (2e-4, {"beta_1": 0.5, "beta_2": 0.999})
    assert (reference_cfg.spec.learning_rate, dict(reference_cfg.spec.adam_kwargs)) == (
        1e-4, {"beta_1": 0.0, "beta_2": 0.9}
    )


def _constructor_config(cfg, model_kwargs):
    """The model's `get_config` for `model_kwargs` (defaults resolved), without Keras's layer bookkeeping."""
    spec = cfg.spec
    kwargs = dict(model_kwargs, **({"num_levels": cfg.num_levels} if spec.preprocessing == "levels" else {}))
    classes = 10 if spec.conditional else None
    config = spec.model_class()(image_shape=(28, 28, 1), num_classes=classes, **kwargs).get_config()
    return {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}


def test_every_recorded_result_is_what_its_command_runs_today():
    # A registry default changed after a run was recorded must not change what the recorded command reproduces.
    results = os.path.join(os.path.dirname(quality.__file__), "results")
    checked = 0
    for name in quality.RUNS:
        path = os.path.join(results, f"quality_{name}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            recorded = json.load(f)["train_config"]
        cfg = quality.train_config(name, "/runs/q")
        current = json.loads(json.dumps(dataclasses.asdict(cfg)))  # Tuples as the record's lists.
        for key, value in recorded.items():
            if key not in ("workdir", "verbose", "model_kwargs"):
                assert current[key] == value, (name, key)
        assert _constructor_config(cfg, recorded["model_kwargs"]) == _constructor_config(cfg, cfg.model_kwargs), name
        checked += 1
    assert checked >= 10


def _preset_from_tiny_run(tmp_path, monkeypatch, preset, run, metric, figures=True, readme=None):
    """Makes `preset` from the finished quality run `run` in `tmp_path` (METRICS_TAKE 40); returns its Preset."""
    monkeypatch.setitem(presets_lib.SOURCES, preset, (f"quality:{run}", metric, 20))
    monkeypatch.setattr(presets_lib, "METRICS_TAKE", 40)
    presets_lib.make_presets(presets_lib.MakePresetsConfig(
        presets=(preset,), quality_dir=str(tmp_path / "runs"), results_dir=str(tmp_path / "results"),
        output_dir=str(tmp_path / "presets"), figures_dir=str(tmp_path / "figures"), figures=figures, readme=readme))
    return zoo_presets.Preset.from_manifest(str(tmp_path / "presets" / f"{preset}.json"))


def test_one_command_trains_resumes_and_writes_the_result(tmp_path, monkeypatch):
    monkeypatch.setitem(quality.RUNS, "tiny_vae", quality.QualityRun(
        model="vae", epochs=1, steps_per_epoch=2, model_kwargs={"latent_dim": 2, "filters": [4, 8]}, iwae_k=2,
        num_samples=20, take=100))
    result = quality.run_quality("tiny_vae", str(tmp_path / "runs"), str(tmp_path / "results"), verbose=0)
    saved = json.loads((tmp_path / "results" / "quality_tiny_vae.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["likelihood"]["images"] == 100 and saved["quality"]["num_samples"] == 20
    assert saved["epochs"] == 1 and saved["history"][0]["epoch"] == 1 and "val_elbo" in saved["history"][0]
    assert "python -m benchmarks.quality" in saved["benchmark_command"]
    # The same command again resumes after the completed epoch instead of training it twice.
    monkeypatch.setitem(quality.RUNS, "tiny_vae", quality.RUNS["tiny_vae"].__class__(
        **{**quality.RUNS["tiny_vae"].__dict__, "epochs": 2}))
    again = quality.run_quality("tiny_vae", str(tmp_path / "runs"), str(tmp_path / "results"), verbose=0)
    assert [row["epoch"] for row in again["history"]] == [1, 2]
    # A preset made from the long run records its command, wall time and whole-split scores.
    manifest = _preset_from_tiny_run(tmp_path, monkeypatch, "vae_tiny_preset", "tiny_vae", "elbo_nats", figures=False).manifest
    assert manifest["command"] == again["benchmark_command"] and manifest["training"]["epochs"] == 2
    assert manifest["training"]["train_wall_seconds"] == again["wall_seconds"]
    assert manifest["training"]["test_split_metrics"]["images"] == 100


def _fake_result(name, model, curve_key, values, nll=None, num_levels=2):
    """A quality JSON of the shape `benchmarks.quality` writes, with made-up numbers for rendering only."""
    sign = -1.0 if curve_key == "val_elbo" else 1.0
    bits = 1 / 784 / np.log(2)
    likelihood = {"nll_nats": nll, "nll_bits_per_dim": nll * bits, "images": 10000} if nll else None
    history = [{"epoch": i + 1, curve_key: sign * v} for i, v in enumerate(values)]
    if curve_key == "val_nll":
        history = [{**row, "val_bits_per_dim": row["val_nll"] * bits} for row in history]
    return {"name": name, "model": model, "parameters": 1000, "epochs": len(values), "wall_seconds": 7200.0,
            "likelihood": likelihood, "quality": None, "history": history, "train_config": {"num_levels": num_levels},
            "date": "2026-11-30", "benchmark_command": f"python -m benchmarks.quality --run={name}"}


def test_the_model_quality_section_ranks_at_equal_epochs_and_draws_the_curves(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for result in (_fake_result("pixel_cnn", "pixel_cnn", "val_nll", [100, 95, 90], nll=90.0),
                   _fake_result("row_lstm", "row_lstm", "val_nll", [99, 93], nll=93.0),
                   _fake_result("pixel_cnn_256levels", "pixel_cnn", "val_nll", [1800, 1750], 1750.0, num_levels=256),
                   _fake_result("pixel_cnn_pp_256levels", "pixel_cnn_pp", "val_nll", [1700], 1700.0, num_levels=256),
                   _fake_result("dcgan", "dcgan", "fid", [20, 10, 8])):
        (results / f"quality_{result['name']}.json").write_text(json.dumps(result))
    out = tmp_path / "RESULTS.md"
    make_results.write_results(str(results), str(out))
    text = out.read_text()
    assert "## Model quality" in text and "`python -m benchmarks.quality --run=dcgan`" in text
    # Binarized, ranked after 2 epochs, the most both runs have: row_lstm 93 before pixel_cnn 95, beside MNIST nats.
    assert "| 1 | row_lstm | 1,000 | 93.00 | 80.54 |" in text and "| 2 | pixel_cnn | 1,000 | 95.00 | 81.30 |" in text
    # The 256-level runs apart, in bits/dim beside the papers' CIFAR-10 numbers, after the 1 epoch both have.
    assert "Equal epochs, 256 levels: test NLL after 1 epoch " in text
    assert "| 1 | pixel_cnn_pp_256levels | 1,000 | 3.1283 | 2.92 |" in text
    assert "| 2 | pixel_cnn_256levels | 1,000 | 3.3123 | 3.14 |" in text
    binarized = text[text.index("Equal epochs, binarized"):text.index("Equal epochs, 256 levels")]
    assert "256levels" not in binarized
    for name in ("quality_nll.png", "quality_nll_256levels.png", "quality_fid.png"):
        assert Image.open(tmp_path / "figures" / name).size == (720, 440)


def test_each_reference_sits_beside_the_run_whose_wall_time_it_had():
    ours = dict(_fake_result("diagonal_bilstm", "diagonal_bilstm", "val_nll", [100, 93], nll=93.0),
                train_config={"num_levels": 2})
    reference = dict(_fake_result("tfp_pixel_cnn", "tfp.distributions.PixelCNN", "val_nll", [], nll=95.5),
                     parameters=625000, epochs=14.3, budget_matched_to="quality:diagonal_bilstm", history=[])
    unmatched = dict(reference, name="tfp_pixel_cnn_256levels", budget_matched_to="quality:not_run")
    lines = make_results._render_equal_time_references([ours, reference, unmatched])
    rows = [line for line in lines if line.startswith("| 2 ")]
    assert rows == ["| 2 | diagonal_bilstm | 1,000 | 2 | 93.00 (0.1711) | 625,000 | 14.3 | 95.50 (0.1757) | ours |"]
    assert make_results._render_equal_time_references([ours]) == []


def test_the_longest_interleaved_comparison_at_each_level_joins_the_reference_table():
    def comparison(run, seconds, ours_bits, tfd_bits, parameters=True):
        sides = {}
        for label, bits, count in (("pixel_cnn_pp", ours_bits, 352495), ("tfp", tfd_bits, 624990)):
            sides[label] = {"steps": 2343, "test_bits_per_dim": bits, **({"parameters": count} if parameters else {})}
        return {"run": run, "num_levels": 256, "batch_size": 128, "budget_seconds_each": seconds, **sides}

    shorter = comparison("pixel_cnn_pp_256levels", 4500.0, 2.95, 2.90)
    longest = comparison("pixel_cnn_pp_256levels_7560s", 7560.0, 2.90, 2.91)
    rows = [line for line in make_results._render_equal_time_references([], [shorter, longest]) if line[:6] == "| 256 "]
    # 2,343 steps of 128 are 5 epochs of Fashion-MNIST; 2.9 bits/dim are 2.9 * 784 * ln 2 nats per image.
    assert rows == ["| 256 | pixel_cnn_pp_256levels_7560s (*interleaved*, 2.10 h each) | 352,495 | 5.00 "
                    "| 1575.94 (2.9000) | 624,990 | 5.00 | 1581.37 (2.9100) | ours |"]
    # A result from before the benchmark recorded parameter counts leaves their cells empty.
    unknown = comparison("pixel_cnn_pp_256levels_7560s", 7560.0, 2.90, 2.91, parameters=False)
    assert "| 256 | pixel_cnn_pp_256levels_7560s (*interleaved*, 2.10 h each) |  | 5.00 |" in "\n".join(
        make_results._render_equal_time_references([], [unknown]))
    # Equal to the 4 places printed is a tie, as in the table of every comparison.
    tied = comparison("pixel_cnn_pp_256levels_7560s", 7560.0, 2.90001, 2.90002)
    assert make_results._render_equal_time_references([], [tied])[-2].endswith("| neither (equal to 4 places) |")


def test_line_plot_draws_every_series_and_refuses_nothing_to_plot(tmp_path):
    path = plot.line_plot(str(tmp_path / "p.png"), {"a": [(1, 2.0), (2, 1.0)], "b": [(1, 3.0)]}, "t", "x", "y")
    pixels = np.asarray(Image.open(path))
    assert (pixels == (31, 119, 180)).all(-1).any() and (pixels == (214, 39, 40)).all(-1).any()
    with pytest.raises(ValueError, match="series"):
        plot.line_plot(str(tmp_path / "q.png"), {"a": []}, "t", "x", "y")


def test_line_plot_widens_the_image_for_a_long_legend_label_and_keeps_the_plot_area(tmp_path):
    short = np.asarray(Image.open(plot.line_plot(str(tmp_path / "s.png"), {"a": [(1, 2.0)]}, "t", "x", "y")))
    label = "diagonal_bilstm_256levels_20epochs_and_then_some"
    long = np.asarray(Image.open(plot.line_plot(str(tmp_path / "l.png"), {label: [(1, 2.0)]}, "t", "x", "y")))
    assert short.shape == (440, 720, 3) and long.shape[0] == 440 and long.shape[1] > 720
    # The frame of the plot area (black) is as wide in both; the label ends before the image's right edge.
    frame = [np.flatnonzero((image[380] == 0).all(-1)) for image in (short, long)]
    assert frame[0][-1] - frame[0][0] == frame[1][-1] - frame[1][0]
    assert not (long[:, -4:] != 255).any()


def test_the_reference_trains_for_a_quality_runs_wall_time_and_resumes(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    ours = {"wall_seconds": 3.0, "train_config": {"num_levels": 2}, "likelihood": {"nll_nats": 100.0}}
    (results / "quality_tiny.json").write_text(json.dumps(ours))
    command = [sys.executable, "-m", "benchmarks.tfp_pixel_cnn", "--match_quality=tiny", f"--out_dir={results}",
               f"--workdir={tmp_path / 'ref'}", "--num_filters=4", "--num_hierarchies=1", "--num_logistic_mix=1",
               "--test_take=1", "--checkpoint_steps=2"]
    runs = [subprocess.run(command, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    saved = json.loads((results / "quality_tfp_pixel_cnn.json").read_text())
    assert saved["wall_seconds"] >= 3.0 and saved["budget_matched_to"] == "quality:tiny"
    assert saved["likelihood"]["images"] == 500 and saved["steps"] >= 1
    # The rerun found the budget spent: it restored the weights and scored them, training no further.
    assert "resumed from" in runs[1].stdout and f"{saved['steps']} steps" in runs[1].stdout
    assert "tfp_pixel_cnn" in "\n".join(make_results._render_quality([saved], str(tmp_path), str(tmp_path)))


@pytest.mark.parametrize("model, metric, kwargs", [
    ("cvae", "elbo_nats", {"latent_dim": 2, "filters": [4, 8]}),
    ("cdcgan", "fid", {"filters": 8, "latent_dim": 4}),
])
def test_a_conditional_preset_is_scored_with_labels_and_draws_every_class(tmp_path, monkeypatch, model, metric, kwargs):
    monkeypatch.setitem(quality.RUNS, f"tiny_{model}", quality.QualityRun(
        model=model, epochs=1, steps_per_epoch=2, model_kwargs=kwargs, iwae_k=2, num_samples=20, take=100))
    quality.run_quality(f"tiny_{model}", str(tmp_path / "runs"), str(tmp_path / "results"), verbose=0)
    preset = _preset_from_tiny_run(tmp_path, monkeypatch, f"{model}_preset", f"tiny_{model}", metric)
    assert "one column per class" in preset.manifest["figure_rows"]
    # 10 classes a row, 28-pixel images drawn at scale 2: the figure is ten images wide.
    width = Image.open(tmp_path / "figures" / f"{model}_preset.png").size[0]
    assert 10 * 56 <= width < 11 * 56
    assert presets_lib.check_value(preset.load(), preset) == pytest.approx(preset.manifest["check"]["value"], rel=1e-2)


def test_a_cyclegan_preset_is_scored_by_its_translations_and_draws_both_ways(tmp_path, monkeypatch):
    monkeypatch.setitem(quality.RUNS, "tiny_cyclegan", quality.QualityRun(
        model="cyclegan", epochs=1, steps_per_epoch=2, model_kwargs={"filters": 4, "num_residual_blocks": 1, "discriminator_filters": 4}, take=40))
    result = quality.run_quality("tiny_cyclegan", str(tmp_path / "runs"), str(tmp_path / "results"), verbose=0)
    assert result["translation"]["images_a"] == 40 and "a2b_accuracy" in result["translation"]
    section = "\n".join(make_results._render_quality([result], str(tmp_path), str(tmp_path)))
    assert "`tiny_cyclegan` translates: cycle error A -> B -> A" in section
    markers = presets_lib.README_MARKERS
    readme = tmp_path / "README.md"
    readme.write_text(f"# Top\n\n{markers['presets table'][0]}\nold table\n{markers['presets table'][1]}\n\nMiddle.\n\n"
                      f"{markers['presets gallery'][0]}\n{markers['presets gallery'][1]}\n\nEnd.\n")
    preset = _preset_from_tiny_run(tmp_path, monkeypatch, "cyclegan_preset", "tiny_cyclegan", "cycle_a_mae",
                                   readme=str(readme))
    # The README's table and gallery are rewritten from the manifests, the text around them kept.
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# Top\n") and "\nMiddle.\n" in text and text.endswith("End.\n")
    assert f"{markers['presets table'][0]}\n{zoo_presets.presets_table(str(tmp_path / 'presets'))}\n" in text
    assert "| `cyclegan_preset`<br>8 test images of domain A (Sneaker); translated to B (Ankle boot);" in text
    assert set(preset.manifest["metrics"]) >= {"cycle_a_mae", "cycle_b_mae", "a2b_accuracy", "b2a_accuracy"}
    # Six rows of eight 28-pixel images at scale 2.
    assert Image.open(tmp_path / "figures" / "cyclegan_preset.png").size[1] >= 6 * 56
    assert presets_lib.check_value(preset.load(), preset) == pytest.approx(preset.manifest["check"]["value"], rel=1e-3)
    table = zoo_presets.presets_table(str(tmp_path / "presets"))
    assert '| `CycleGAN.from_preset("preset")` |' in table and "| cycle error A " in table


def test_a_readme_without_the_markers_is_refused_and_left_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Top\n{presets_lib.README_MARKERS['presets table'][0]}\n")
    with pytest.raises(ValueError, match="end of presets table"):
        presets_lib.write_readme(str(readme))
    assert readme.read_text() == f"# Top\n{presets_lib.README_MARKERS['presets table'][0]}\n"


def test_a_preset_from_the_pixel_cnn_pp_comparison_finds_its_model_and_records_ours(tmp_path, monkeypatch):
    # What `benchmarks.pixel_cnn_pp_benchmark --mode=likelihood --workdir=...` leaves: the model and its
    # config.json in the work directory it was given, and a result that names the model and scores both sides
    # (here with Polyak averages, `--average_momentum`: the saved weights are the averages).
    workdir = tmp_path / "anywhere" / "pixel_cnn_pp_vs_tfd"
    workdir.mkdir(parents=True)
    PixelCNNPlusPlus(image_shape=(28, 28, 1), num_levels=256, num_resnet=1, num_hierarchies=1, num_filters=4,
                     num_logistic_mix=2, dropout_p=0.0, weight_norm=True, seed=0).save(str(workdir / "model.keras"))
    (workdir / "config.json").write_text(json.dumps({
        "model": "pixel_cnn_pp", "dataset": "fashion_mnist", "num_levels": 256, "batch_size": 128,
        "workdir": str(workdir)}))
    result = {
        "run": "pp_tiny", "benchmark_command": "python -m benchmarks.pixel_cnn_pp_benchmark --mode=likelihood",
        "date": "2026-12-01", "model_path": str(workdir / "model.keras"), "test_images": "all",
        "pixel_cnn_pp": {"steps": 5, "train_wall_seconds": 2.0, "train_images_per_second": 320.0, "test_bits_per_dim": 7.9,
                         "averaged_steps": 3, "test_bits_per_dim_last_weights": 7.95},
        "average_momentum": 0.999,
        "tfp": {"steps": 4, "train_wall_seconds": 2.0, "train_images_per_second": 256.0, "test_bits_per_dim": 8.0},
    }
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "pp_tiny.json").write_text(json.dumps(result))
    monkeypatch.setitem(presets_lib.SOURCES, "pixel_cnn_pp_tiny", ("pp_tiny", "bits_per_dim", 20))
    monkeypatch.setattr(presets_lib, "METRICS_TAKE", 40)
    presets_lib.make_presets(presets_lib.MakePresetsConfig(
        presets=("pixel_cnn_pp_tiny",), runs_dir=str(tmp_path / "not_here"), results_dir=str(tmp_path / "results"),
        output_dir=str(tmp_path / "presets"), figures=False))
    preset = zoo_presets.Preset.from_manifest(str(tmp_path / "presets" / "pixel_cnn_pp_tiny.json"))
    training = preset.manifest["training"]
    assert training["command"] == result["benchmark_command"] and training["steps"] == 5
    assert training["train_wall_seconds"] == 2.0 and training["train_images_per_second"] == 320.0
    assert training["test_split_metrics"] == {"bits_per_dim": 7.9, "images": "all", "reference_tfp_bits_per_dim": 8.0,
                                              "average_momentum": 0.999, "averaged_steps": 3,
                                              "last_weights_bits_per_dim": 7.95}
    assert preset.manifest["model_config"]["weight_norm"] is True
    assert preset.manifest["source_model_file"].endswith(os.path.join("pixel_cnn_pp_vs_tfd", "model.keras"))
    assert presets_lib.check_value(preset.load(), preset) == pytest.approx(preset.manifest["check"]["value"], rel=1e-5)


def test_a_preset_without_its_result_or_its_model_is_refused_naming_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setitem(presets_lib.SOURCES, "tiny", ("quality:tiny", "bits_per_dim", 20))
    config = presets_lib.MakePresetsConfig(presets=("tiny",), quality_dir=str(tmp_path / "runs"),
                                           results_dir=str(tmp_path / "results"), output_dir=str(tmp_path / "presets"))
    with pytest.raises(ValueError, match=r"quality_tiny\.json, which does not exist"):
        presets_lib.make_presets(config)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "quality_tiny.json").write_text(json.dumps({"name": "tiny"}))
    with pytest.raises(ValueError, match="holds no model.keras"):
        presets_lib.make_presets(config)
    assert not list((tmp_path / "presets").glob("tiny*"))


def test_the_pixel_cnn_pp_comparison_section_says_which_side_is_weight_normalised_and_what_was_averaged(tmp_path):
    side = {"steps": 5, "train_wall_seconds": 2.0, "train_images_per_second": 320.0, "test_bits_per_dim": 2.9}
    result = {"run": "pixel_cnn_pp_256levels_wn", "weight_norm": True, "num_levels": 256, "architecture": {},
              "batch_size": 128, "budget_seconds_each": 2.0, "schedule": "alternating blocks", "cores": 2,
              "date": "2026-12-01", "pixel_cnn_pp": side, "tfp": {**side, "steps": 4},
              "figure": str(tmp_path / "f.png"), "benchmark_command": "python -m benchmarks.pixel_cnn_pp_benchmark"}
    # A longer budget's run, named with `--tag`, gets a section of its own.
    longer = {**result, "run": "pixel_cnn_pp_256levels_3h", "weight_norm": False, "budget_seconds_each": 10800.0}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "pixel_cnn_pp_256levels_wn.json").write_text(json.dumps(result))
    (tmp_path / "results" / "pixel_cnn_pp_256levels_3h.json").write_text(json.dumps(longer))
    averaged = {**longer, "run": "pixel_cnn_pp_256levels_avg", "average_momentum": 0.999}
    for label in ("pixel_cnn_pp", "tfp"):
        averaged[label] = {**averaged[label], "averaged_steps": 3, "test_bits_per_dim_last_weights": 3.1}
    (tmp_path / "results" / "pixel_cnn_pp_256levels_avg.json").write_text(json.dumps(averaged))
    make_results.write_results(str(tmp_path / "results"), str(tmp_path / "RESULTS.md"))
    text = (tmp_path / "RESULTS.md").read_text()
    assert "for the same training time, 256 levels, 2 s each, ours weight-normalised" in text
    assert "| PixelCNNPlusPlus (ours, weight_norm=True) | 5 | 320 | 2.9000 |" in text
    assert "| tfp.distributions.PixelCNN (weight-normalised) | 4 |" in text
    assert "for the same training time, 256 levels, 10,800 s each\n" in text
    assert "| PixelCNNPlusPlus (ours, plain kernels) | 5 |" in text
    assert "10,800 s each, Polyak-averaged\n" in text and "momentum 0.999" in text
    assert "| PixelCNNPlusPlus (ours, plain kernels) | 5 | 320 | 3 | 2.9000 | 3.1000 |" in text
    # A data-initialised run over another seed; the summary table lists every comparison once, before them all.
    seeded = {**longer, "run": "pixel_cnn_pp_256levels_di_seed1", "data_init": True, "seed": 1,
              "tfp": {**side, "test_bits_per_dim": 2.8}}
    (tmp_path / "results" / "pixel_cnn_pp_256levels_di_seed1.json").write_text(json.dumps(seeded))
    make_results.write_results(str(tmp_path / "results"), str(tmp_path / "RESULTS.md"))
    text = (tmp_path / "RESULTS.md").read_text()
    assert "10,800 s each, ours data-initialised, seed 1\n" in text
    assert "| PixelCNNPlusPlus (ours, plain kernels, data-initialised) | 5 |" in text
    summary = text.index("every equal-training-time comparison")
    assert summary < text.index("## PixelCNN++ against `tfd.PixelCNN`: likelihood") and text.count("every equal-") == 1
    assert ("| pixel_cnn_pp_256levels_wn | 256 | 2 | 0 | weight_norm=True | last weights | 5 | 2.9000 | 4 | 2.9000 "
            "| neither (equal to 4 places) |") in text
    assert ("| pixel_cnn_pp_256levels_di_seed1 | 256 | 10,800 | 1 | plain kernels, data-initialised | last weights | 5 "
            "| 2.9000 | 5 | 2.8000 | tfd.PixelCNN |") in text
    assert "| pixel_cnn_pp_256levels_avg | 256 | 10,800 | 0 | plain kernels | Polyak averages (0.999) | 5 |" in text


def _render_quality(tmp_path, *results):
    """RESULTS.md's text, rendered from quality JSONs of `results` alone."""
    (tmp_path / "results").mkdir()
    for result in results:
        (tmp_path / "results" / f"quality_{result['name']}.json").write_text(json.dumps(result))
    make_results.write_results(str(tmp_path / "results"), str(tmp_path / "RESULTS.md"))
    return (tmp_path / "RESULTS.md").read_text()


def test_runs_that_end_at_the_same_longer_epoch_count_get_their_own_ranking(tmp_path):
    text = _render_quality(
        tmp_path,
        _fake_result("pixel_cnn", "pixel_cnn", "val_nll", [100, 95]),
        _fake_result("gated_pixel_cnn", "gated_pixel_cnn", "val_nll", [101, 96]),
        _fake_result("pixel_cnn_4epochs", "pixel_cnn", "val_nll", [100, 95, 92, 91]),
        _fake_result("gated_pixel_cnn_4epochs", "gated_pixel_cnn", "val_nll", [101, 96, 91, 90]),
    )
    after_2, after_4 = text.split("test NLL after 2 epochs")[1], text.split("test NLL after 4 epochs")[1]
    assert "| 1 | pixel_cnn | 1,000 | 95.00 |" in after_2 and "| 2 | gated_pixel_cnn | 1,000 | 96.00 |" in after_2
    assert "4epochs" not in after_2.split("test NLL after 4 epochs")[0]  # Each run in one table only.
    assert "| 1 | gated_pixel_cnn_4epochs | 1,000 | 90.00 |" in after_4 and "| 2 | pixel_cnn_4epochs | 1,000 | 91.00 |" in after_4


def test_a_lone_continuation_is_not_ranked_twice_beside_the_run_it_continues(tmp_path):
    text = _render_quality(
        tmp_path,
        _fake_result("pixel_cnn", "pixel_cnn", "val_nll", [100, 95]),
        _fake_result("row_lstm", "row_lstm", "val_nll", [101, 96]),
        _fake_result("row_lstm_4epochs", "row_lstm", "val_nll", [101, 96, 91, 90]),
        _fake_result("gated_pixel_cnn", "gated_pixel_cnn", "val_nll", [102, 97, 94]),
    )
    ranking = text.split("test NLL after 2 epochs")[1].split("\n\n")[1]
    assert "| 2 | row_lstm | 1,000 | 96.00 |" in ranking and "row_lstm_4epochs" not in ranking
    # A longer run that continues none of them is still ranked at the epochs they all have.
    assert "| 3 | gated_pixel_cnn | 1,000 | 97.00 |" in ranking
