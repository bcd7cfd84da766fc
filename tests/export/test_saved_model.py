"""SavedModel export: signatures equal the Keras verbs, layout, models.config, warm-up, bad requests, C API."""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import saved_model, serving_c_api
from zoo.gan.dcgan import DCGAN
from zoo.gan.gan import GAN
from zoo.pixel.gated_pixel_cnn import GatedPixelCNN
from zoo.pixel.pixel_cnn import PixelCNN
from zoo.vae.vae import VAE

K = 7  # Importance samples of the exported VAE bound.
SEEDS = np.array([0, 5, -3, 2**40 + 11], np.int64)
LABELS = np.array([0, 2, 1, 2], np.int32)


def _models():
    return {
        "gan": GAN(image_shape=(8, 8, 1), latent_dim=4, hidden_units=(8, 8), seed=0),
        "cdcgan": DCGAN(image_shape=(8, 8, 1), num_classes=3, latent_dim=4, filters=8, seed=0),
        "cvae": VAE(image_shape=(8, 8, 1), num_classes=3, latent_dim=3, filters=(4, 8), seed=0),
        "pixel_cnn": PixelCNN(image_shape=(4, 4, 1), filters=4, num_blocks=1, first_kernel_size=3, output_filters=8, seed=0),
        "gated": GatedPixelCNN(
            image_shape=(3, 3, 2), num_classes=3, num_levels=4, filters=4, num_layers=2, output_filters=8, seed=0
        ),
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`(base_dir, {name: (keras_model, export_dir)})` with every tiny model exported as version 1."""
    base = str(tmp_path_factory.mktemp("models"))
    models = _models()
    return base, {name: (m, saved_model.to_saved_model(m, base, name, num_importance_samples=K)) for name, m in models.items()}


@pytest.fixture(scope="module")
def loaded(exported):
    _, models = exported
    return {name: tf.saved_model.load(path).signatures for name, (_, path) in models.items()}


def _labels(model, n=len(SEEDS)):
    return {"labels": tf.constant(LABELS[:n])} if model.num_classes else {}


def _row_labels(model, i):
    return [int(LABELS[i])] if model.num_classes else None


def _keras_samples(model):
    return np.concatenate([model.sample(1, seed=int(s), labels=_row_labels(model, i)) for i, s in enumerate(SEEDS)])


def _random_levels(model, n, seed=0):
    return np.random.default_rng(seed).integers(0, model.num_levels, (n,) + model.image_shape).astype(np.int32)


@pytest.mark.parametrize("name", ["gan", "cdcgan"])
def test_gan_signatures_equal_keras(exported, loaded, name):
    model, sigs = exported[1][name][0], loaded[name]
    out = sigs["serving_default"](seed=tf.constant(SEEDS), **_labels(model))
    np.testing.assert_allclose(out["images"], _keras_samples(model), atol=1e-6)
    expected_uint8 = np.round((np.clip(out["images"].numpy(), -1, 1) + 1) * 127.5).astype(np.uint8)
    np.testing.assert_array_equal(out["images_uint8"], expected_uint8)

    z = np.random.default_rng(1).normal(size=(4, model.latent_dim)).astype(np.float32)
    out = sigs["generate"](z=tf.constant(z), **_labels(model))
    np.testing.assert_allclose(out["images"], model.generate(z, labels=_labels(model).get("labels")), atol=1e-6)

    steps = 5
    label = 1 if model.num_classes else None
    reference = model.interpolate(z[0], z[1], steps=steps, labels=label)
    kwargs = {"labels": tf.fill([steps], 1)} if model.num_classes else {}
    out = sigs["interpolate"](
        z0=tf.constant(np.tile(z[:1], (steps, 1))), z1=tf.constant(np.tile(z[1:2], (steps, 1))),
        t=tf.linspace(0.0, 1.0, steps), **kwargs,
    )
    np.testing.assert_allclose(out["images"], reference, atol=1e-5)


def test_vae_signatures_equal_keras(exported, loaded):
    model, sigs = exported[1]["cvae"][0], loaded["cvae"]
    out = sigs["serving_default"](seed=tf.constant(SEEDS), **_labels(model))
    np.testing.assert_array_equal(out["levels"], _keras_samples(model))
    np.testing.assert_array_equal(out["images"], out["levels"].numpy().astype(np.float32))
    np.testing.assert_array_equal(out["images_uint8"], out["levels"].numpy() * 255)

    images = _random_levels(model, 4)
    out = sigs["encode"](images=tf.constant(images), **_labels(model))
    posterior = model.encode(images, LABELS)
    np.testing.assert_allclose(out["mean"], posterior.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["scale"], posterior.stddev(), rtol=1e-5, atol=1e-6)

    z = np.random.default_rng(2).normal(size=(4, model.latent_dim)).astype(np.float32)
    out = sigs["decode"](z=tf.constant(z), **_labels(model))
    np.testing.assert_allclose(out["images"], model.decode_mean(z, LABELS), atol=1e-6)

    out = sigs["log_prob_bound"](images=tf.constant(images), seed=tf.constant(SEEDS), **_labels(model))
    reference = [
        model.log_prob_bound(images[i : i + 1], num_samples=K, labels=_row_labels(model, i), seed=int(s))[0]
        for i, s in enumerate(SEEDS)
    ]
    np.testing.assert_allclose(out["log_prob_bound"], reference, rtol=1e-5)
    np.testing.assert_allclose(out["bits_per_dim"], -np.asarray(reference) / (64 * np.log(2)), rtol=1e-5)


@pytest.mark.parametrize("name", ["pixel_cnn", "gated"])
def test_autoregressive_signatures_equal_keras(exported, loaded, name):
    model, sigs = exported[1][name][0], loaded[name]
    out = sigs["serving_default"](seed=tf.constant(SEEDS), **_labels(model))
    np.testing.assert_array_equal(out["levels"], _keras_samples(model))
    np.testing.assert_array_equal(sigs["sample"](seed=tf.constant(SEEDS), **_labels(model))["levels"], out["levels"])
    top = model.num_levels - 1
    np.testing.assert_array_equal(out["images_uint8"], np.round(out["levels"].numpy() / top * 255).astype(np.uint8))

    images = _random_levels(model, 4)
    out = sigs["log_prob"](images=tf.constant(images), **_labels(model))
    reference = model.log_prob(images, labels=_labels(model).get("labels"))
    np.testing.assert_allclose(out["log_prob"], reference, rtol=1e-5)
    np.testing.assert_allclose(out["bits_per_dim"], -reference.numpy() / (images[0].size * np.log(2)), rtol=1e-5)

    mask = np.random.default_rng(3).random(images.shape) < 0.5
    out = sigs["complete"](images=tf.constant(images), known_mask=tf.constant(mask), seed=tf.constant(SEEDS), **_labels(model))
    reference = np.concatenate(
        [
            model.complete(images[i : i + 1], mask[i : i + 1], seed=int(s), labels=_row_labels(model, i))
            for i, s in enumerate(SEEDS)
        ]
    )
    np.testing.assert_array_equal(out["levels"], reference)
    np.testing.assert_array_equal(out["levels"].numpy()[mask], images[mask])


def test_rows_do_not_depend_on_the_batch(loaded):
    """Server-side batching may merge requests: a row's answer must not change with its neighbours."""
    sigs = loaded["gated"]
    together = sigs["serving_default"](seed=tf.constant(SEEDS), labels=tf.constant(LABELS))["levels"].numpy()
    alone = sigs["serving_default"](seed=tf.constant(SEEDS[2:3]), labels=tf.constant(LABELS[2:3]))["levels"].numpy()
    np.testing.assert_array_equal(together[2:3], alone)


def test_layout_models_config_and_versions(exported, tmp_path):
    base, models = exported
    for name, (_, path) in models.items():
        assert path == os.path.join(base, name, "1")
        assert os.path.isfile(os.path.join(path, "saved_model.pb"))
        assert os.path.isdir(os.path.join(path, "variables"))
        assert os.path.isfile(os.path.join(path, saved_model.WARMUP_FILE))
        assert [d for d in os.listdir(os.path.join(base, name)) if d.startswith(".tmp")] == []
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(
        open(os.path.join(base, "models.config")).read(), model_server_config_pb2.ModelServerConfig()
    )
    entries = {c.name: (c.base_path, c.model_platform) for c in config.model_config_list.config}
    assert entries == {name: (os.path.join(os.path.abspath(base), name), "tensorflow") for name in models}

    small = GAN(image_shape=(8, 8, 1), latent_dim=2, hidden_units=(4,), seed=0)
    assert saved_model.to_saved_model(small, str(tmp_path), "g") == os.path.join(str(tmp_path), "g", "1")
    assert saved_model.to_saved_model(small, str(tmp_path), "g", serving_base_path="/models").endswith("g/2")
    assert 'base_path: "/models/g"' in open(tmp_path / "models.config").read()
    with pytest.raises(ValueError, match="already exists"):
        saved_model.to_saved_model(small, str(tmp_path), "g", version=2)
    with pytest.raises(ValueError, match="`version`"):
        saved_model.to_saved_model(small, str(tmp_path), "g", version=0)
    with pytest.raises(ValueError, match="`name`"):
        saved_model.to_saved_model(small, str(tmp_path), "../g")
    with pytest.raises(TypeError, match="`model`"):
        saved_model.to_saved_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), str(tmp_path), "d")


def test_warmup_requests_match_the_signatures(exported, loaded):
    from tensorflow_serving.apis import prediction_log_pb2

    for name, (model, path) in exported[1].items():
        signatures = loaded[name]
        logs = []
        for record in tf.data.TFRecordDataset(os.path.join(path, saved_model.WARMUP_FILE)):
            log = prediction_log_pb2.PredictionLog()
            log.ParseFromString(record.numpy())
            logs.append(log)
        requests = [log.predict_log.request for log in logs]
        assert [r.model_spec.signature_name for r in requests] == ["serving_default", *saved_model.SIGNATURES[saved_model.signature_family(model)]]
        for request in requests:
            assert request.model_spec.name == name
            fn = signatures[request.model_spec.signature_name]
            specs = fn.structured_input_signature[1]
            assert set(request.inputs) == set(specs)
            inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
            for key, value in inputs.items():
                assert tf.as_dtype(value.dtype) == specs[key].dtype and specs[key].shape.is_compatible_with(value.shape)
            fn(**{key: tf.constant(value) for key, value in inputs.items()})  # The replay TF Serving does.


def _bad_requests():
    seed = np.array([1, 2], np.int64)
    return [
        ("cdcgan", "serving_default", {"seed": np.zeros([0], np.int64), "labels": np.zeros([0], np.int32)}, "at least one row"),
        ("pixel_cnn", "serving_default", {"seed": np.zeros([0], np.int64)}, "at least one row"),
        ("cdcgan", "serving_default", {"seed": seed, "labels": np.array([0, 3], np.int32)}, "labels"),
        ("cvae", "decode", {"z": np.zeros([2, 3], np.float32), "labels": np.array([-1, 0], np.int32)}, "labels"),
        ("gated", "sample", {"seed": seed, "labels": np.array([0], np.int32)}, "one entry per row"),
        ("pixel_cnn", "log_prob", {"images": np.zeros([2, 5, 5, 1], np.int32)}, "shape"),
        ("cvae", "encode", {"images": np.zeros([2, 8, 8, 3], np.int32), "labels": np.zeros([2], np.int32)}, "shape"),
        ("pixel_cnn", "log_prob", {"images": np.full([2, 4, 4, 1], 2, np.int32)}, "lie in"),
        ("gan", "generate", {"z": np.zeros([2, 5], np.float32)}, "z|shape|Matrix size"),
        ("gan", "interpolate", {"z0": np.zeros([1, 4], np.float32), "z1": np.ones([1, 4], np.float32),
                                "t": np.array([1.5], np.float32)}, "t"),
        ("pixel_cnn", "complete", {"images": np.zeros([2, 4, 4, 1], np.int32), "known_mask": np.zeros([1, 4, 4, 1], bool),
                                   "seed": seed}, "known_mask"),
    ]


@pytest.mark.parametrize("name, signature, inputs, message", _bad_requests())
def test_bad_requests_fail_in_python(loaded, name, signature, inputs, message):
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=message):
        loaded[name][signature](**{k: tf.constant(v) for k, v in inputs.items()})


def test_wrong_dtype_fails_in_python(loaded):
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError)):
        loaded["pixel_cnn"]["log_prob"](images=tf.zeros([1, 4, 4, 1], tf.float32))
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError)):
        loaded["gan"]["serving_default"](seed=tf.constant([1.5]))


def test_c_api_gives_the_keras_numbers(exported):
    models = exported[1]
    for name, (model, path) in models.items():
        inputs = {"seed": SEEDS, **({"labels": LABELS} if model.num_classes else {})}
        out = serving_c_api.run_signature(path, "serving_default", inputs)
        key = "images" if isinstance(model, GAN) else "levels"
        np.testing.assert_allclose(out[key], _keras_samples(model), atol=1e-6, err_msg=name)
        assert out["images_uint8"].dtype == np.uint8

    model, path = models["gated"]
    images = _random_levels(model, 4)
    out = serving_c_api.run_signature(path, "log_prob", {"images": images, "labels": LABELS})
    np.testing.assert_allclose(out["log_prob"], model.log_prob(images, LABELS), rtol=1e-5)
    model, path = models["cvae"]
    images = _random_levels(model, 4)
    out = serving_c_api.run_signature(path, "log_prob_bound", {"images": images, "seed": SEEDS, "labels": LABELS})
    reference = [model.log_prob_bound(images[i : i + 1], K, [int(LABELS[i])], int(s))[0] for i, s in enumerate(SEEDS)]
    np.testing.assert_allclose(out["log_prob_bound"], reference, rtol=1e-5)


def test_c_api_refuses_bad_requests(exported, monkeypatch):
    for name, signature, inputs, message in [r for r in _bad_requests() if r[0] in ("pixel_cnn", "cdcgan")]:
        with pytest.raises(serving_c_api.ServingError, match=message):
            serving_c_api.run_signature(exported[1][name][1], signature, inputs)
    # Feed a float tensor where the graph expects int32: run_signature casts to the signature's dtype, so lie
    # to it about that dtype.
    path = exported[1]["pixel_cnn"][1]
    real = serving_c_api.signature_tensors

    def float_images(export_dir, signature):
        specs, outputs = real(export_dir, signature)
        return {k: (t, tf.float32, s) for k, (t, _, s) in specs.items()}, outputs

    monkeypatch.setattr(serving_c_api, "signature_tensors", float_images)
    with pytest.raises(serving_c_api.ServingError, match="int32|float"):
        serving_c_api.run_signature(path, "log_prob", {"images": np.zeros([1, 4, 4, 1], np.float32)})


def _cli(*args):
    tool = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True, env=env, timeout=300).stdout


def _shown_signatures(text):
    """`{signature: {("inputs"|"outputs", key): (dtype, shape)}}` parsed from `saved_model_cli show --all`."""
    found = {}
    blocks = re.split(r"signature_def\['([^']+)'\]:", text)
    for signature, body in zip(blocks[1::2], blocks[2::2]):
        tensors = re.findall(r"(inputs|outputs)\['([^']+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([^)]*\))", body)
        found[signature] = {(kind, key): (dtype, shape) for kind, key, dtype, shape in tensors}
    return found


# The documented signatures (export/saved_model.py) of the "cdcgan", "cvae" and "gated" test models.
_DOCUMENTED = {
    "cdcgan": {
        "serving_default": {("inputs", "seed"): ("DT_INT64", "(-1)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                            ("outputs", "images"): ("DT_FLOAT", "(-1, 8, 8, 1)"),
                            ("outputs", "images_uint8"): ("DT_UINT8", "(-1, 8, 8, 1)")},
        "generate": {("inputs", "z"): ("DT_FLOAT", "(-1, 4)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                     ("outputs", "images"): ("DT_FLOAT", "(-1, 8, 8, 1)"),
                     ("outputs", "images_uint8"): ("DT_UINT8", "(-1, 8, 8, 1)")},
        "interpolate": {("inputs", "z0"): ("DT_FLOAT", "(-1, 4)"), ("inputs", "z1"): ("DT_FLOAT", "(-1, 4)"),
                        ("inputs", "t"): ("DT_FLOAT", "(-1)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                        ("outputs", "images"): ("DT_FLOAT", "(-1, 8, 8, 1)"),
                        ("outputs", "images_uint8"): ("DT_UINT8", "(-1, 8, 8, 1)")},
    },
    "cvae": {
        "encode": {("inputs", "images"): ("DT_INT32", "(-1, 8, 8, 1)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                   ("outputs", "mean"): ("DT_FLOAT", "(-1, 3)"), ("outputs", "scale"): ("DT_FLOAT", "(-1, 3)")},
        "decode": {("inputs", "z"): ("DT_FLOAT", "(-1, 3)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                   ("outputs", "images"): ("DT_FLOAT", "(-1, 8, 8, 1)"),
                   ("outputs", "images_uint8"): ("DT_UINT8", "(-1, 8, 8, 1)")},
        "log_prob_bound": {("inputs", "images"): ("DT_INT32", "(-1, 8, 8, 1)"), ("inputs", "seed"): ("DT_INT64", "(-1)"),
                           ("inputs", "labels"): ("DT_INT32", "(-1)"),
                           ("outputs", "log_prob_bound"): ("DT_FLOAT", "(-1)"),
                           ("outputs", "bits_per_dim"): ("DT_FLOAT", "(-1)")},
    },
    "gated": {
        "sample": {("inputs", "seed"): ("DT_INT64", "(-1)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                   ("outputs", "levels"): ("DT_INT32", "(-1, 3, 3, 2)"), ("outputs", "images"): ("DT_FLOAT", "(-1, 3, 3, 2)"),
                   ("outputs", "images_uint8"): ("DT_UINT8", "(-1, 3, 3, 2)")},
        "complete": {("inputs", "images"): ("DT_INT32", "(-1, 3, 3, 2)"), ("inputs", "known_mask"): ("DT_BOOL", "(-1, 3, 3, 2)"),
                     ("inputs", "seed"): ("DT_INT64", "(-1)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                     ("outputs", "levels"): ("DT_INT32", "(-1, 3, 3, 2)"), ("outputs", "images"): ("DT_FLOAT", "(-1, 3, 3, 2)"),
                     ("outputs", "images_uint8"): ("DT_UINT8", "(-1, 3, 3, 2)")},
        "log_prob": {("inputs", "images"): ("DT_INT32", "(-1, 3, 3, 2)"), ("inputs", "labels"): ("DT_INT32", "(-1)"),
                     ("outputs", "log_prob"): ("DT_FLOAT", "(-1)"), ("outputs", "bits_per_dim"): ("DT_FLOAT", "(-1)")},
    },
}


@pytest.mark.parametrize("name", sorted(_DOCUMENTED))
def test_saved_model_cli_shows_the_documented_signatures(exported, name):
    model, path = exported[1][name]
    shown = _shown_signatures(_cli("show", "--dir", path, "--all"))
    expected_names = {"serving_default", *saved_model.SIGNATURES[saved_model.signature_family(model)]}
    assert expected_names <= set(shown)
    assert shown["serving_default"] == shown["sample"]
    for signature, tensors in _DOCUMENTED[name].items():
        assert shown[signature] == tensors, signature


def test_saved_model_cli_runs_serving_default(exported, tmp_path):
    model, path = exported[1]["cdcgan"]
    np.save(tmp_path / "seed.npy", SEEDS)
    np.save(tmp_path / "labels.npy", LABELS)
    inputs = f"seed={tmp_path / 'seed.npy'};labels={tmp_path / 'labels.npy'}"
    _cli("run", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default", "--inputs", inputs,
         "--outdir", str(tmp_path))
    np.testing.assert_allclose(np.load(tmp_path / "images.npy"), _keras_samples(model), atol=1e-6)
    assert np.load(tmp_path / "images_uint8.npy").dtype == np.uint8
