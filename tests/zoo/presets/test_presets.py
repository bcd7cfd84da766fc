"""Pretrained presets: every one loads offline by name, reproduces its manifest metric, exports and serves the same
samples, and a damaged or foreign weights file is refused whole with an error naming the preset."""

import json
import os
import re
import shutil
import socket

import numpy as np
import pytest
import tensorflow as tf

import zoo
from export import saved_model
from trainers import presets_lib
from zoo import presets
from zoo.presets import registry
from zoo.gan.dcgan import DCGAN
from zoo.gan.gan import GAN
from zoo.pixel.pixel_cnn import PixelCNN
from zoo.vae.vae import VAE

NAMES = sorted(presets_lib.SOURCES)
GENERATIVE = [name for name in NAMES if not name.startswith("classifier_")]
# Autoregressive sampling is one network pass per pixel (784 here), so their export checks serve 2 rows.
_SLOW_TO_SAMPLE = ("row_lstm_", "diagonal_bilstm_")
_MAX_BYTES = 20 * 2**20


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a preset tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _copy(name, directory):
    """Copies the manifest and weights file of preset `name` into `directory`; returns the copied `Preset`."""
    preset = presets.get_preset(name)
    os.makedirs(directory, exist_ok=True)
    shutil.copy(preset.manifest_path, directory)
    shutil.copy(preset.weights_path, directory)
    return presets.Preset.from_manifest(os.path.join(directory, os.path.basename(preset.manifest_path)))


def test_every_preset_is_listed_with_data_command_metrics_and_size():
    rows = {row["name"]: row for row in zoo.list_presets()}
    assert sorted(rows) == NAMES == presets.available_presets()
    for name, row in rows.items():
        preset = presets.get_preset(name)
        assert row["size_bytes"] == os.path.getsize(row["weights_file"]) <= _MAX_BYTES, name
        assert row["sha256"] == presets.sha256_of_file(row["weights_file"]), name
        assert row["dataset"] == "fashion_mnist" and row["preprocessing"], name
        # A long run's command may start with the thread settings it ran with (benchmarks.common.provenance).
        command = re.sub(r"^(\w+=\S+ )*", "", row["command"])
        trainers = ("python -m trainers.train", "python -m benchmarks.quality --run=",
                    "python -m benchmarks.pixel_cnn_pp_benchmark --mode=likelihood")
        assert command.startswith(trainers), name
        assert row["metrics"] and row["metrics_slice"] == "fashion_mnist test[:1000]", name
        assert preset.manifest["check"]["metric"] in row["metrics"], name
        figure = os.path.join(os.path.dirname(os.path.dirname(zoo.__file__)), preset.manifest["figure"])
        with open(figure, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
    assert '| `dcgan_fashion_mnist` | `DCGAN.from_preset("fashion_mnist")` |' in presets.presets_table()


def test_the_readme_shows_the_presets_table_and_gallery_make_presets_writes(tmp_path):
    readme = os.path.join(os.path.dirname(os.path.dirname(zoo.__file__)), "README.md")
    copy = shutil.copy(readme, tmp_path / "README.md")
    presets_lib.write_readme(str(copy))
    with open(readme) as shipped, open(copy) as rewritten:
        assert rewritten.read() == shipped.read(), "README.md is stale: run python -m trainers.make_presets"


@pytest.mark.parametrize("name", NAMES)
def test_preset_loads_offline_from_its_class_and_reproduces_its_check_metric(offline, name):
    preset = presets.get_preset(name)
    model_class = preset.model_class()
    model = model_class.from_preset(registry.from_preset_argument(preset))
    assert type(model) is model_class
    check = preset.manifest["check"]
    value = presets_lib.check_value(model, preset)
    assert value == pytest.approx(check["value"], rel=check["rtol"], abs=check["atol"]), (
        f"{name}: {check['metric']} on test[:{check['take']}] is {value}, the manifest says {check['value']}"
    )


def test_zoo_load_and_from_preset_with_full_names(offline):
    dcgan = zoo.load("dcgan_fashion_mnist")
    assert type(dcgan) is DCGAN
    # A full name may load a subclass; the short name picks the class's own preset.
    assert type(GAN.from_preset("dcgan_fashion_mnist")) is DCGAN
    np.testing.assert_array_equal(GAN.from_preset("dcgan_fashion_mnist").sample(2, seed=3), dcgan.sample(2, seed=3))
    assert type(PixelCNN.from_preset("fashion_mnist_256levels")) is PixelCNN


def test_models_sharing_a_class_keep_the_short_name_for_the_model_called_like_it(tmp_path):
    # A conditional VAE's preset is a VAE too, with the same variant: "fashion_mnist" stays the VAE's.
    _copy("vae_fashion_mnist", tmp_path)
    os.rename(tmp_path / "vae_fashion_mnist.json", tmp_path / "cvae_fashion_mnist.json")
    second = presets.Preset.from_manifest(str(tmp_path / "cvae_fashion_mnist.json"))
    _rewrite_manifest(second, preset="cvae_fashion_mnist", model="cvae")
    _copy("vae_fashion_mnist", tmp_path)
    directory = str(tmp_path)
    assert VAE.from_preset("fashion_mnist", directory=directory).num_classes is None
    rows = {row["name"]: row["from_preset"] for row in presets.list_presets(directory)}
    assert rows == {"vae_fashion_mnist": 'VAE.from_preset("fashion_mnist")',
                    "cvae_fashion_mnist": 'VAE.from_preset("cvae_fashion_mnist")'}
    assert registry.from_preset_argument(presets.get_preset("cvae_fashion_mnist", directory), directory) == "cvae_fashion_mnist"


def test_wrong_names_and_classes_are_refused_with_the_choices():
    with pytest.raises(presets.PresetError, match=r"Unknown preset 'dcgan_cifar10'\. Available presets: .*dcgan_fashion_mnist"):
        zoo.load("dcgan_cifar10")
    with pytest.raises(presets.PresetError, match=r"VAE has no preset 'cifar10'\. Its presets: 'fashion_mnist'"):
        VAE.from_preset("cifar10")
    with pytest.raises(presets.PresetError, match=r"Preset 'vae_fashion_mnist' is a VAE, not a DCGAN"):
        DCGAN.from_preset("vae_fashion_mnist")
    with pytest.raises(presets.PresetError, match=r"Its presets: 'fashion_mnist', 'fashion_mnist_256levels'"):
        PixelCNN.from_preset("mnist")


@pytest.mark.parametrize("name", NAMES)
def test_corrupted_or_truncated_copy_is_refused_naming_the_preset(tmp_path, name):
    copy = _copy(name, tmp_path)
    raw = bytearray(open(copy.weights_path, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(copy.weights_path, "wb").write(bytes(raw))
    with pytest.raises(presets.WeightsChecksumError, match=f"Preset '{name}': weights file .* has SHA-256 .*corrupted"):
        zoo.presets.load(name, directory=str(tmp_path))
    open(copy.weights_path, "wb").write(bytes(raw[: len(raw) // 2]))
    with pytest.raises(presets.WeightsChecksumError, match=f"Preset '{name}': .* bytes, but its manifest records .*truncated"):
        zoo.presets.load(name, directory=str(tmp_path))
    os.remove(copy.weights_path)
    with pytest.raises(FileNotFoundError, match=f"Preset '{name}': .*which does not exist"):
        zoo.presets.load(name, directory=str(tmp_path))


def _rewrite_manifest(target, **changes):
    manifest = dict(target.manifest, **changes)
    with open(target.manifest_path, "w") as f:
        json.dump(manifest, f)


def test_weights_of_another_architecture_are_refused_whole(tmp_path):
    # The Row LSTM's file, with a manifest checksum that matches it, given as the PixelCNN preset.
    pixel_cnn = _copy("pixel_cnn_fashion_mnist", tmp_path)
    foreign = presets.get_preset("row_lstm_fashion_mnist").weights_path
    shutil.copy(foreign, pixel_cnn.weights_path)
    _rewrite_manifest(pixel_cnn, sha256=presets.sha256_of_file(foreign), size_bytes=os.path.getsize(foreign))
    with pytest.raises(presets.PresetError, match=r"Preset 'pixel_cnn_fashion_mnist': .*another architecture .*missing"):
        PixelCNN.from_preset("fashion_mnist", directory=str(tmp_path))

    # Keras alone would load a 5-block file into a 4-block PixelCNN without a word, ignoring a block.
    pixel_cnn = _copy("pixel_cnn_fashion_mnist", tmp_path)
    _rewrite_manifest(pixel_cnn, model_config=dict(pixel_cnn.manifest["model_config"], num_blocks=4))
    with pytest.raises(presets.PresetError, match=r"another architecture .* \d+ unexpected \(blocks/.*Nothing was loaded"):
        PixelCNN.from_preset("fashion_mnist", directory=str(tmp_path))

    # 256 levels: same layers, other output widths.
    pixel_cnn = _copy("pixel_cnn_fashion_mnist", tmp_path)
    _rewrite_manifest(pixel_cnn, model_config=dict(pixel_cnn.manifest["model_config"], num_levels=256))
    with pytest.raises(presets.PresetError, match=r"different shape or dtype \(head/.* instead of"):
        PixelCNN.from_preset("fashion_mnist", directory=str(tmp_path))


@pytest.mark.parametrize("class_path", ["os:system", "builtins:eval", "zoo.ops:bits_per_dim"])
def test_a_manifest_cannot_name_code_outside_the_zoo_models(tmp_path, class_path):
    preset = _copy("dcgan_fashion_mnist", tmp_path)
    _rewrite_manifest(preset, **{"class": class_path})
    with pytest.raises(presets.PresetError, match="Preset 'dcgan_fashion_mnist': "):
        zoo.presets.load("dcgan_fashion_mnist", directory=str(tmp_path))


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith(_SLOW_TO_SAMPLE) else n for n in GENERATIVE]
)
def test_preset_exports_and_serves_the_same_samples_for_the_same_seeds(tmp_path, name):
    model = zoo.load(name)
    autoregressive = presets_lib.preset_family(model) == "autoregressive"
    seeds = [0, 7] if autoregressive else [0, 7, -3, 2**40 + 1]
    serving = tf.saved_model.load(saved_model.to_saved_model(model, str(tmp_path), name)).signatures["serving_default"]
    if presets_lib.preset_family(model) == "cyclegan":  # Its default signature translates A to B: no seeds.
        images_a, _ = presets_lib.unpaired_test_slice(presets.get_preset(name), 4)
        served = serving(images=tf.constant(images_a))["images"]
        np.testing.assert_allclose(served, model.translate(images_a, "a2b"), atol=1e-5)
        return
    labels = presets_lib.sample_labels(model, len(seeds))  # None for an unconditional model.
    if labels is None:
        served = serving(seed=tf.constant(seeds, tf.int64))
        expected = np.concatenate([model.sample(1, seed=s) for s in seeds])
    else:
        served = serving(seed=tf.constant(seeds, tf.int64), labels=tf.constant(labels))
        expected = np.concatenate([model.sample(1, seed=s, labels=labels[i : i + 1]) for i, s in enumerate(seeds)])
    if presets_lib.preset_family(model) == "gan":
        np.testing.assert_allclose(served["images"], expected, atol=1e-5)
    else:
        np.testing.assert_array_equal(served["levels"], expected)
