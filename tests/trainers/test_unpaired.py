"""Unpaired (a, b) batches of two Fashion-MNIST classes, the translation grid, and translation scores."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from PIL import Image

from trainers import callbacks, data, eval_lib, train_lib
from zoo.gan import CycleGAN

PREP = data.Preprocessing("symmetric")


def test_domains_are_the_chosen_classes_in_split_order(fashion_mnist_batch):
    images, labels = fashion_mnist_batch
    ds = data.load_unpaired("fashion_mnist", "test", PREP, batch_size=4, shuffle=False, take=5, domains=("sneaker", "9"))
    batches = [(a.numpy(), b.numpy()) for a, b in ds]
    assert ds.cardinality() == 2 and [a.shape[0] for a, _ in batches] == [4, 1]  # 5 = 4 + 1; B cut to A's size.
    assert all(a.shape == b.shape for a, b in batches)
    a = np.concatenate([a for a, _ in batches])
    b = np.concatenate([b for _, b in batches])
    np.testing.assert_array_equal(a, PREP(images[labels == 7][:5]).numpy())
    np.testing.assert_array_equal(b, PREP(images[labels == 9][:5]).numpy())


def test_training_batches_are_full_and_each_domain_reshuffles_on_its_own():
    ds = data.load_unpaired("fashion_mnist", "train", PREP, batch_size=8, seed=3, take=20)
    assert ds.cardinality() == 2 and ds.element_spec[0].shape == (8, 28, 28, 1)
    first, second = ([a.numpy() for a, _ in ds] for _ in range(2))
    assert not np.array_equal(first[0], second[0])


def test_domain_names_and_defaults_resolve():
    assert data.resolve_domains("fashion_mnist") == (7, 9)
    assert data.resolve_domains("fashion_mnist", ["Ankle_boot", 0]) == (9, 0)
    assert data.resolve_domains("cycle_gan/horse2zebra") is None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(domains=(7, 7)), ValueError, "different"),
        (dict(domains=("sneaker", "boat")), ValueError, "Ankle boot"),
        (dict(domains=(7, 9, 1)), ValueError, "two classes"),
        (dict(batch_size=2000, drop_remainder=True), ValueError, "batch_size"),
        (dict(image_size=-1), ValueError, "image_size"),
        (dict(preprocessing=data.Preprocessing("levels", 2, "stochastic")), ValueError, "deterministic"),
    ],
)
def test_bad_unpaired_arguments_get_a_clear_error(kwargs, error, match):
    args = {"preprocessing": PREP, "batch_size": 8, **kwargs}
    with pytest.raises(error, match=match):
        data.load_unpaired("fashion_mnist", "test", shuffle=False, **args)


def test_cycle_gan_datasets_take_their_domains_from_splits():
    with pytest.raises(ValueError, match="splits"):
        data.resolve_domains("cycle_gan/horse2zebra", (0, 1))


def test_domains_are_refused_for_models_that_are_not_unpaired():
    with pytest.raises(ValueError, match="domains"):
        train_lib.TrainConfig(model="vae", workdir="w", domains=(1, 2)).resolved()
    assert train_lib.TrainConfig(model="cyclegan", workdir="w").resolved().domains == (7, 9)


def _identity_cyclegan():
    identity = lambda: keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Identity()])  # noqa: E731
    model = CycleGAN(generator_a2b=identity(), generator_b2a=identity(), discriminator_filters=2)
    model.compile()
    return model


def test_translation_grid_has_inputs_translations_and_reconstructions_of_both_domains(tmp_path):
    images_a, images_b = next(iter(data.load_unpaired("fashion_mnist", "test", PREP, batch_size=3, shuffle=False)))
    grid = callbacks.TranslationGrid(str(tmp_path), PREP.to_unit, images_a, images_b)
    grid.set_model(_identity_cyclegan())
    path = grid.write(1)
    # Six rows (A, A->B, A->B->A, B, B->A, B->A->B) of 3 images of 28 px with 1 px padding, scaled by 2.
    picture = np.asarray(Image.open(path))
    assert picture.shape == (2 * (6 * 29 + 1), 2 * (3 * 29 + 1))
    rows = grid.images()
    np.testing.assert_array_equal(rows[3:6], rows[:3])  # Identity translators: the A rows repeat the inputs.
    assert (tmp_path / "latest.png").exists()


def test_evaluate_scores_translations_of_a_cyclegan_workdir(tmp_path):
    config = train_lib.TrainConfig(model="cyclegan", workdir=str(tmp_path), domains=("sneaker", "ankle_boot")).resolved()
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
    _identity_cyclegan().save(str(tmp_path / "model.keras"))
    result = eval_lib.evaluate(eval_lib.EvalConfig(workdir=str(tmp_path), take=40))
    scores = result["translation"]
    assert scores["images_a"] == scores["images_b"] == 40 and "quality" not in result
    assert scores["cycle_a_mae"] == scores["cycle_b_mae"] == 0.0
    assert scores["real_a_accuracy"] > 0.8 and scores["real_b_accuracy"] > 0.8  # The classifier knows real shoes.
    # An untranslated sneaker is an ankle boot only where the classifier mistakes it.
    assert scores["a2b_accuracy"] + scores["real_a_accuracy"] <= 1.0 + 1e-9
    assert scores["b2a_accuracy"] + scores["real_b_accuracy"] <= 1.0 + 1e-9
