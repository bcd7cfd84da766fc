"""CycleGAN: cycle and identity terms, one step per optimizer, saving, export and bad arguments."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import saved_model
from zoo.gan import CycleGAN, losses

SHAPE = (8, 8, 1)
TINY = dict(filters=2, num_residual_blocks=1, discriminator_filters=4, discriminator_downsamplings=1)


def _images(n=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n,) + SHAPE).astype("float32")


def _model(**kwargs):
    return CycleGAN(**{"image_shape": SHAPE, **TINY, "seed": 0, **kwargs})


def _identity_generator():
    return keras.Sequential([keras.Input(SHAPE), keras.layers.Identity()])


def _unpaired(n=16, batch_size=4):
    return tf.data.Dataset.from_tensor_slices((_images(n, seed=1), _images(n, seed=2))).batch(batch_size)


def test_cycle_consistency_loss_by_hand():
    real = np.zeros((2, 2, 2, 1), "float32")
    reconstructed = np.stack([np.zeros((2, 2, 1)), np.full((2, 2, 1), 0.5)]).astype("float32")
    reconstructed[0, 0, 0, 0] = -1.0
    np.testing.assert_allclose(losses.cycle_consistency_loss(real, reconstructed).numpy(), [0.25, 0.5])
    np.testing.assert_allclose(losses.identity_mapping_loss(real, real).numpy(), [0.0, 0.0])


def test_cycle_loss_is_zero_for_identity_generators_and_positive_otherwise():
    identity = _model(generator_a2b=_identity_generator(), generator_b2a=_identity_generator())
    learned = _model()
    for model in (identity, learned):
        model.compile()
    a, b = _images(4, seed=1), _images(4, seed=2)
    assert identity.generator_losses(a, b)["cycle"] == 0.0
    assert learned.generator_losses(a, b)["cycle"] > 0.01
    # The training step's metrics measure the same thing.
    logs = identity.evaluate(_unpaired(), verbose=0, return_dict=True)
    assert logs["cycle_a"] == logs["cycle_b"] == 0.0


def test_identity_loss_is_applied_only_when_its_weight_is_non_zero():
    without, weighted = _model(identity_weight=0.0), _model(identity_weight=2.5)
    for name in ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b"):
        getattr(weighted, name).set_weights(getattr(without, name).get_weights())
    for model in (without, weighted):
        model.compile()
    a, b = _images(4, seed=1), _images(4, seed=2)
    off, on = without.generator_losses(a, b), weighted.generator_losses(a, b)
    assert off["identity"] == 0.0 and on["identity"] > 0.01
    assert on["cycle"] == pytest.approx(off["cycle"]) and on["adversarial"] == pytest.approx(off["adversarial"], abs=1e-5)
    assert on["total"] - off["total"] == pytest.approx(2.5 * on["identity"], rel=1e-4)
    assert "identity_a2b" not in [m.name for m in without.metrics]
    assert {"identity_a2b", "identity_b2a"} <= {m.name for m in weighted.metrics}
    # With identity generators the identity term vanishes too.
    identity = _model(identity_weight=2.5, generator_a2b=_identity_generator(), generator_b2a=_identity_generator())
    identity.compile()
    assert identity.generator_losses(a, b)["identity"] == 0.0


def test_each_of_the_four_optimizers_steps_once_per_train_step_and_moves_only_its_player():
    model = _model()
    # A frozen generator and a frozen discriminator: their optimizers still step, their players must not move.
    model.compile(a2b_optimizer=keras.optimizers.SGD(0.0), d_b_optimizer=keras.optimizers.SGD(0.0))
    players = {name: getattr(model, name) for name in ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b")}
    before = {name: [w.copy() for w in p.get_weights()] for name, p in players.items()}
    logs = model.fit(_unpaired(12, batch_size=4), epochs=1, verbose=0).history  # 3 train steps.
    for name in ("a2b_optimizer", "b2a_optimizer", "d_a_optimizer", "d_b_optimizer"):
        assert int(getattr(model, name).iterations) == 3, name
    for name, frozen in (("generator_a2b", True), ("generator_b2a", False), ("discriminator_a", False), ("discriminator_b", True)):
        unchanged = all(np.array_equal(x, y) for x, y in zip(before[name], players[name].get_weights()))
        assert unchanged == frozen, name
    assert set(logs) == {"g_loss", "d_a_loss", "d_b_loss", "cycle_a", "cycle_b"}
    assert all(np.isfinite(v[-1]) for v in logs.values())


def test_the_wasserstein_game_trains_with_its_gradient_penalty():
    model = _model()
    model.compile(loss="wasserstein", run_eagerly=True)  # Eager: no tracing, seconds faster on a tiny model.
    logs = model.fit(_unpaired(8), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())


def test_keras_save_and_saved_model_export_give_identical_translations(tmp_path):
    model = _model(identity_weight=1.0)
    model.compile(loss="non_saturating", run_eagerly=True)
    model.fit(_unpaired(8), epochs=1, verbose=0)
    images = _images(5, seed=3)
    path = str(tmp_path / "cyclegan.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert restored.get_config() == model.get_config() and restored.loss_name == "non_saturating"
    assert int(restored.d_b_optimizer.iterations) == 2
    signatures = tf.saved_model.load(saved_model.to_saved_model(model, str(tmp_path / "models"), "cyclegan")).signatures
    for direction in ("a2b", "b2a"):
        expected = model.translate(images, direction).numpy()
        np.testing.assert_array_equal(restored.translate(images, direction).numpy(), expected)
        out = signatures[direction](images=tf.constant(images))
        np.testing.assert_allclose(out["images"].numpy(), expected, atol=1e-6)
        np.testing.assert_allclose(out["images_uint8"].numpy(), (expected + 1) / 2 * 255, atol=0.5 + 1e-3)
    np.testing.assert_allclose(signatures["serving_default"](images=tf.constant(images))["images"].numpy(),
                               model.translate(images, "a2b").numpy(), atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="lie in"):
        signatures["a2b"](images=tf.constant(images * 3))


def test_get_config_round_trip_with_a_custom_player():
    discriminator = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(1)])
    model = _model(cycle_weight=4.0, discriminator_b=discriminator)
    clone = CycleGAN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()
    assert isinstance(clone.discriminator_b.layers[-1], keras.layers.Dense)


def test_translate_and_reconstruct():
    model = _model(generator_b2a=_identity_generator())
    images = _images(3)
    translated = model.translate(images, direction="a2b").numpy()
    assert translated.shape == (3,) + SHAPE and np.abs(translated).max() <= 1.0
    np.testing.assert_allclose(model.reconstruct(images, "a2b").numpy(), translated)  # F is the identity.
    np.testing.assert_allclose(model.translate(images, "b2a").numpy(), images)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_classes=3), ValueError, "num_classes"),
        (dict(filters=0), ValueError, "filters"),
        (dict(image_shape=(10, 10, 1)), ValueError, "divisible by 4"),
        (dict(image_shape=(8, 8)), ValueError, "image_shape"),
        (dict(discriminator_downsamplings=4), ValueError, "discriminator_downsamplings"),
        (dict(cycle_weight=-1.0), ValueError, "cycle_weight"),
        (dict(identity_weight="high"), TypeError, "identity_weight"),
        (dict(generator_a2b="resnet"), TypeError, "generator_a2b"),
        (dict(generator_b2a=keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten()])), ValueError, "generator_b2a"),
    ],
)
def test_bad_constructor_arguments_get_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        _model(**kwargs)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: m.translate(_images(2), direction="ab"), ValueError, "direction"),
        (lambda m: m.reconstruct(_images(2), direction="b2b"), ValueError, "direction"),
        (lambda m: m.translate(np.zeros((2, 4, 4, 1), "float32")), ValueError, "shape"),
        (lambda m: m.translate(np.full((2,) + SHAPE, 2.0, "float32")), ValueError, r"\[-1.0, 1.0\]"),
        (lambda m: m.translate(np.zeros((2,) + SHAPE, "int32")), TypeError, "float"),
        (lambda m: m.compile(loss="hinge"), ValueError, "loss"),
        (lambda m: m.compile(a2b_optimizer=1e-3), TypeError, "a2b_optimizer"),
        (lambda m: m.compile(d_a_optimizer=(o := keras.optimizers.Adam()), d_b_optimizer=o), ValueError, "d_b_optimizer"),
        (lambda m: m.generator_losses(_images(2), _images(2)), ValueError, "compile"),
        (lambda m: (m.compile(), m.fit(_images(4), batch_size=2, verbose=0)), ValueError, "images_a, images_b"),
        (lambda m: (m.compile(), m.generator_losses(_images(2), _images(3))), ValueError, "as many"),
    ],
)
def test_bad_calls_get_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(_model())
