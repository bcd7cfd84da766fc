"""The per-row and per-intensity breakdown of a run's test NLL adds up to its exact NLL, and renders."""

import json
import math

import numpy as np
import pytest

from benchmarks import make_results, nll_breakdown
from trainers import data, eval_lib, train_lib


@pytest.mark.parametrize("num_levels", [2, 5, 8, np.int64(256)])
def test_the_bands_cover_every_level_once(num_levels):
    bands = nll_breakdown.level_bands(num_levels)
    covered = [level for _, low, high in bands for level in range(low, high + 1)]
    assert covered == list(range(num_levels)) and bands[0][1:] == (0, 0)


@pytest.mark.parametrize("num_levels", [1, 2.0, None, True])
def test_bad_levels_are_refused(num_levels):
    with pytest.raises(ValueError, match="num_levels"):
        nll_breakdown.level_bands(num_levels)


def test_the_breakdown_adds_up_to_the_exact_test_nll(tmp_path):
    workdir = str(tmp_path / "run")
    train_lib.train_and_evaluate(train_lib.TrainConfig(
        model="pixel_cnn", workdir=workdir, epochs=1, steps_per_epoch=2, batch_size=8, num_levels=16, train_take=16,
        eval_take=16, num_grid_samples=4, verbose=0, model_kwargs={"filters": 8, "num_blocks": 1},
    ))
    result = nll_breakdown.breakdown(workdir, take=20, batch_size=8)

    model, _ = eval_lib.load_trained_model(workdir)
    images = np.concatenate([batch.numpy() for batch in data.load(
        "fashion_mnist", "test", eval_lib.training_config(workdir).preprocessing(), batch_size=20, shuffle=False,
        take=20)])
    expected = -float(np.mean(model.log_prob(images))) / (28 * 28 * math.log(2.0))
    assert result["images"] == 20 and result["num_levels"] == 16
    assert result["bits_per_dim"] == pytest.approx(expected, rel=1e-5)
    assert np.mean(result["rows"]) == pytest.approx(expected, rel=1e-5) and len(result["rows"]) == 28
    bands = result["bands"]
    assert sum(b["share_of_bits"] for b in bands) == pytest.approx(1.0)
    assert sum(b["share_of_subpixels"] for b in bands) == pytest.approx(1.0)
    background = np.mean(images == 0)
    assert bands[0]["levels"] == "0" and bands[0]["share_of_subpixels"] == pytest.approx(background)
    weighted = sum(b["bits_per_subpixel"] * b["share_of_subpixels"] for b in bands if b["bits_per_subpixel"])
    assert weighted == pytest.approx(expected, rel=1e-5)


def test_the_section_tabulates_each_run_and_links_the_plot(tmp_path):
    run = {"images": 10000, "num_levels": 256, "bits_per_dim": 3.0, "rows": [1.0] + [3.0] * 27,
           "bands": [{"levels": "0", "share_of_subpixels": 0.5, "bits_per_subpixel": 0.2, "share_of_bits": 0.03},
                     {"levels": "1-254", "share_of_subpixels": 0.5, "bits_per_subpixel": 5.8, "share_of_bits": 0.97},
                     {"levels": "255", "share_of_subpixels": 0.0, "bits_per_subpixel": None, "share_of_bits": 0.0}]}
    result = {"runs": {"pixel_cnn_256levels": run}, "figure": "nll_by_row.png", "take": None, "cores": 2,
              "date": "2026-12-06",
              "benchmark_command": "python -m benchmarks.nll_breakdown --runs=pixel_cnn_256levels"}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "nll_breakdown.json").write_text(json.dumps(result))
    make_results.write_results(str(tmp_path / "results"), str(tmp_path / "RESULTS.md"))
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## Where the bits go" in text and "](figures/nll_by_row.png)" in text
    assert ("| pixel_cnn_256levels | 256 | 3.0000 | 0.200 (50%, 3%) | 5.800 (50%, 97%) | no pixels | 1.000 | 3.000 | "
            "3.000 |") in text
    assert "python -m benchmarks.nll_breakdown --runs=pixel_cnn_256levels" in text
