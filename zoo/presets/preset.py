"""One shipped pretrained model: its manifest, its weights file, and loading that verifies both first."""

import dataclasses
import hashlib
import importlib
import json
import os
import tempfile
from typing import Any, Mapping

import h5py
import keras

from zoo.presets.errors import PresetError, WeightsChecksumError

#: Manifest keys a preset needs to be found, verified and built.
REQUIRED_KEYS = ("preset", "class", "model", "dataset", "preprocessing", "model_config", "weights_file", "sha256",
                 "size_bytes")


def sha256_of_file(path, chunk_size=1 << 20):
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_structure(path):
    """`{variable path: (shape, dtype)}` of every array in a Keras `.weights.h5` file.

    Read with h5py, which only reads arrays: nothing stored in the file is executed.
    """
    entries = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            entries[name] = (tuple(int(d) for d in item.shape), str(item.dtype))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return entries


def model_weights_structure(model):
    """The `weights_structure` of what `model.save_weights` writes: what a file made for this architecture holds."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        model.save_weights(path)
        return weights_structure(path)


def describe_preprocessing(preprocessing):
    """A short human description of a manifest's `preprocessing` (the fields of `trainers.data.Preprocessing`)."""
    kind = preprocessing.get("kind")
    if kind == "levels":
        levels = preprocessing.get("num_levels")
        if levels == 2:
            rule = "stochastic" if preprocessing.get("binarize") == "stochastic" else "fixed threshold 0.5"
            return f"binarized ({rule})"
        return f"{levels} levels"
    return {"unit": "floats in [0, 1]", "symmetric": "floats in [-1, 1]"}.get(kind, str(kind))


@dataclasses.dataclass(frozen=True)
class Preset:
    """A pretrained model shipped as a Keras weights file beside a JSON manifest.

    The manifest says what the weights are and how to rebuild them:

        preset          the name, `<model>_<dataset>` plus an optional variant, e.g. "dcgan_fashion_mnist"
        class           "module:ClassName" of the zoo model (a `keras.Model` in a `zoo.` module)
        model           the short model name (`trainers.train --model=`, or "classifier"); the preset name
                        without "<model>_" is what `ClassName.from_preset` takes ("fashion_mnist")
        dataset         the TFDS dataset, and `preprocessing` the `trainers.data.Preprocessing` of its inputs
        model_config    the constructor arguments
        weights_file    the `.weights.h5` file beside the manifest, with its `sha256` and `size_bytes`
        command, date, versions, training
                        provenance: the training command, when and with which libraries it ran
        metrics         measured on a fixed slice of the test split (`metrics_slice`)
        check           `{"metric", "take", "value", "rtol"}`: one metric on a smaller slice that tests re-evaluate

    Loading builds the model from `model_config` and reads only arrays from the weights file, so nothing in
    either file is ever executed (no pickle, no deserialized code). Before any weight is assigned, the file's
    size and SHA-256 are checked against the manifest, and its variables (paths, shapes, dtypes) against the
    ones the built model has, so a damaged file or a file made for another architecture is refused whole,
    never loaded in part.

    Args:
        manifest: the manifest as a dict.
        manifest_path: where it was read from (the weights file is in the same directory).

    Example:
        >>> preset = Preset.from_manifest("zoo/presets/weights/dcgan_fashion_mnist.json")
        >>> model = preset.load()                 # verified, ready to sample
        >>> images = model.sample(16, seed=0)
    """

    manifest: Mapping[str, Any]
    manifest_path: str

    @classmethod
    def from_manifest(cls, path):
        """Reads the manifest at `path`.

        Raises:
            FileNotFoundError: no file at `path`.
            PresetError: the file is not JSON or lacks a required key.
        """
        try:
            with open(path) as f:
                manifest = json.load(f)
        except json.JSONDecodeError as e:
            raise PresetError(f"Preset manifest {path} is not valid JSON: {e}.") from None
        missing = [key for key in REQUIRED_KEYS if key not in manifest] if isinstance(manifest, dict) else REQUIRED_KEYS
        if missing:
            raise PresetError(f"Preset manifest {path} lacks the keys {', '.join(missing)}.")
        name, model = manifest["preset"], manifest["model"]
        if not name.startswith(f"{model}_"):
            raise PresetError(f"Preset manifest {path}: the name {name!r} must start with its model {model!r} and '_'.")
        return cls(manifest=manifest, manifest_path=os.path.abspath(path))

    @property
    def name(self):
        return self.manifest["preset"]

    @property
    def variant(self):
        """The name without the model prefix, as `ClassName.from_preset` takes it (e.g. "fashion_mnist")."""
        return self.name[len(self.manifest["model"]) + 1 :]

    @property
    def class_path(self):
        return self.manifest["class"]

    @property
    def weights_path(self):
        return os.path.join(os.path.dirname(self.manifest_path), self.manifest["weights_file"])

    def _restore_hint(self):
        return (f"Restore the file from the repository (git checkout -- {self.weights_path}); its manifest "
                f"{self.manifest_path} records how it was made: {self.manifest.get('command', '?')}")

    def model_class(self):
        """The model class the manifest names; only `keras.Model` subclasses from `zoo.` modules are accepted."""
        module, _, attr = self.class_path.partition(":")
        if not module.startswith("zoo.") or not attr:
            raise PresetError(f"Preset {self.name!r}: class {self.class_path!r} is not a 'zoo.module:ClassName' path.")
        try:
            model_class = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            raise PresetError(f"Preset {self.name!r}: class {self.class_path!r} does not exist in this version of the zoo.") from None
        if not (isinstance(model_class, type) and issubclass(model_class, keras.Model)):
            raise PresetError(f"Preset {self.name!r}: {self.class_path!r} is not a keras.Model subclass.")
        return model_class

    def verify(self):
        """Checks the weights file's size and SHA-256 against the manifest; returns its path.

        Raises:
            FileNotFoundError: the weights file is missing.
            WeightsChecksumError: the size or the SHA-256 differs (truncated, corrupted or replaced file).
        """
        path = self.weights_path
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Preset {self.name!r}: its manifest names the weights file {path}, which does not exist. "
                + self._restore_hint()
            )
        size, expected_size = os.path.getsize(path), self.manifest["size_bytes"]
        if size != expected_size:
            raise WeightsChecksumError(
                f"Preset {self.name!r}: weights file {path} has {size} bytes, but its manifest records "
                f"{expected_size} (SHA-256 {self.manifest['sha256']}): the file is truncated or was replaced. "
                + self._restore_hint()
            )
        actual = sha256_of_file(path)
        if actual != self.manifest["sha256"]:
            raise WeightsChecksumError(
                f"Preset {self.name!r}: weights file {path} has SHA-256 {actual}, but its manifest records "
                f"{self.manifest['sha256']}: the file is corrupted or was replaced. " + self._restore_hint()
            )
        return path

    def build(self):
        """The model built from the manifest's `model_config`, with freshly initialised weights."""
        model_class = self.model_class()
        try:
            return model_class(**self.manifest["model_config"])
        except (TypeError, ValueError) as e:
            raise PresetError(
                f"Preset {self.name!r}: the manifest's model_config does not build a {model_class.__name__}: {e}"
            ) from None

    def check_architecture(self, model):
        """Raises `PresetError` unless the weights file holds exactly the variables `model` has.

        Keras assigns what matches and ignores extra arrays, so a file of a deeper network would load into a
        shallower one without complaint; comparing every path, shape and dtype first rules that out.
        """
        try:
            found = weights_structure(self.weights_path)
        except OSError as e:
            raise PresetError(f"Preset {self.name!r}: {self.weights_path} is not a readable Keras weights file ({e}).") from None
        expected = model_weights_structure(model)
        if found == expected:
            return
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        changed = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])
        details = []
        for label, keys, show in (
            ("missing", missing, lambda k: k),
            ("unexpected", unexpected, lambda k: k),
            ("different shape or dtype", changed, lambda k: f"{k} {found[k]} instead of {expected[k]}"),
        ):
            if keys:
                more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
                details.append(f"{len(keys)} {label} ({', '.join(show(k) for k in keys[:3])}{more})")
        raise PresetError(
            f"Preset {self.name!r}: weights file {self.weights_path} was made for another architecture than the "
            f"manifest's {type(model).__name__}({self.manifest['model_config']}): {'; '.join(details)}. "
            "Nothing was loaded. " + self._restore_hint()
        )

    def load(self):
        """The model with the shipped weights, after `verify` and `check_architecture`.

        Raises:
            FileNotFoundError: the weights file is missing.
            WeightsChecksumError: the file's size or SHA-256 differs from the manifest's.
            PresetError: the class or config is unusable, or the file was made for another architecture.
        """
        path = self.verify()
        model = self.build()
        self.check_architecture(model)
        model.load_weights(path)
        return model

    def describe(self, from_preset_argument=None):
        """The preset as one row of `zoo.list_presets()`: model, data, training command, metrics, file size, figure.

        Args:
            from_preset_argument: what `ClassName.from_preset` takes for it (default: its variant; the registry
                gives the full name where several presets of the class share the variant).
        """
        return {
            "name": self.name,
            "class": self.class_path.partition(":")[2],
            "from_preset": f'{self.class_path.partition(":")[2]}.from_preset("{from_preset_argument or self.variant}")',
            "model": self.manifest["model"],
            "dataset": self.manifest["dataset"],
            "preprocessing": describe_preprocessing(self.manifest["preprocessing"]),
            "command": self.manifest.get("command"),
            "metrics": dict(self.manifest.get("metrics", {})),
            "metrics_slice": self.manifest.get("metrics_slice"),
            "size_bytes": self.manifest["size_bytes"],
            "num_parameters": self.manifest.get("num_parameters"),
            "weights_file": self.weights_path,
            "sha256": self.manifest["sha256"],
            "figure": self.manifest.get("figure"),  # Relative to the repository (`trainers.make_presets` draws it).
            "figure_caption": self.manifest.get("figure_rows"),
        }
