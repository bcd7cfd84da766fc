"""Finding presets by name: the shipped manifests, `load`, `list_presets` and what `from_preset` resolves."""

import glob
import os

from zoo.presets.errors import PresetError
from zoo.presets.preset import Preset

_ZOO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The generative models' weights and manifests.
PRESETS_DIR = os.path.join(_ZOO_DIR, "presets", "weights")
#: Every directory searched for manifests: the generative presets, and the evaluation classifier, whose files
#: stay where `trainers.train_classifier` writes them (`zoo/classifier/weights/`).
SEARCH_DIRS = (PRESETS_DIR, os.path.join(_ZOO_DIR, "classifier", "weights"))


def _presets(directory=None):
    """`{name: Preset}` over every manifest in `directory` (default: `SEARCH_DIRS`)."""
    directories = SEARCH_DIRS if directory is None else (directory,)
    found = {}
    for path in sorted(p for d in directories for p in glob.glob(os.path.join(d, "*.json"))):
        preset = Preset.from_manifest(path)
        if preset.name in found:
            raise PresetError(
                f"Preset {preset.name!r} has two manifests: {found[preset.name].manifest_path} and {path}."
            )
        found[preset.name] = preset
    return found


def available_presets(directory=None):
    """Sorted names of the presets in `directory` (default: the shipped ones)."""
    return sorted(_presets(directory))


def get_preset(name, directory=None):
    """The `Preset` called `name` (its manifest only; nothing is loaded).

    Args:
        name: a preset name, e.g. "dcgan_fashion_mnist" (`available_presets()` lists them).
        directory: a directory of manifests and weights files to search instead of the shipped ones.

    Raises:
        PresetError: no preset has this name (the message lists those that exist).
    """
    presets = _presets(directory)
    if not isinstance(name, str) or name not in presets:
        raise PresetError(f"Unknown preset {name!r}. Available presets: {', '.join(sorted(presets)) or 'none'}.")
    return presets[name]


def load(name, directory=None):
    """The pretrained model of preset `name`, its weights verified against the manifest's SHA-256 first.

    No network access: the weights ship in the repository. The model is built from the manifest's constructor
    config; its `sample`, `log_prob` and other verbs work at once.

    Args:
        name: a preset name, e.g. "dcgan_fashion_mnist", "pixel_cnn_fashion_mnist_256levels".
        directory: a directory of manifests and weights files to use instead of the shipped ones.

    Returns:
        The model (a `keras.Model` of the class the manifest names).

    Raises:
        PresetError: unknown name, or a file made for another architecture.
        WeightsChecksumError: the weights file is truncated, corrupted or replaced (a `PresetError` too).
        FileNotFoundError: the weights file named by the manifest is missing.

    Example:
        >>> import zoo
        >>> dcgan = zoo.load("dcgan_fashion_mnist")
        >>> images = dcgan.sample(16, seed=0)          # floats in [-1, 1]
    """
    return get_preset(name, directory).load()


def list_presets(directory=None):
    """One dict per preset: name, class, `from_preset` call, dataset, preprocessing, training command, metrics
    (on the manifest's `metrics_slice` of the test split), weights file, size and SHA-256.

    Example:
        >>> for row in zoo.list_presets():
        ...     print(row["name"], row["preprocessing"], row["metrics"], row["size_bytes"])
    """
    presets = _presets(directory)
    return [preset.describe(_from_preset_argument(preset, presets)) for _, preset in sorted(presets.items())]


def _own_presets(model_class, presets):
    """`{variant: Preset}` of the presets whose class is exactly `model_class`, for `from_preset("fashion_mnist")`.

    Several models share a class (the VAE and the class-conditional VAE, the DCGAN, cDCGAN and WGAN-GP). A
    variant they share names the preset of the model called like the class (`VAE` -> "vae", `DCGAN` ->
    "dcgan"); the others load by their full names (`VAE.from_preset("cvae_fashion_mnist")`).
    """
    class_path = f"{model_class.__module__}:{model_class.__qualname__}"
    mine = [p for p in presets.values() if p.class_path == class_path]
    own = {}
    for p in mine:
        shared = sum(q.variant == p.variant for q in mine) > 1
        if not shared or p.manifest["model"] == model_class.__name__.lower():
            own[p.variant] = p
    return own


def from_preset_argument(preset, directory=None):
    """What `ClassName.from_preset` takes to load `preset`: its variant ("fashion_mnist") where that names it
    among its class's presets, else its full name ("cvae_fashion_mnist")."""
    return _from_preset_argument(preset, _presets(directory))


def _from_preset_argument(preset, presets):
    chosen = _own_presets(preset.model_class(), presets).get(preset.variant)
    return preset.variant if chosen is not None and chosen.name == preset.name else preset.name


def resolve_for_class(model_class, preset, directory=None):
    """The `Preset` that `model_class.from_preset(preset)` loads.

    `preset` is either a full preset name whose class is `model_class` or a subclass of it, or the name
    without its model prefix ("fashion_mnist") of a preset whose class is exactly `model_class`.

    Raises:
        PresetError: no such preset for this class (the message lists the class's presets).
    """
    presets = _presets(directory)
    own = _own_presets(model_class, presets)
    if isinstance(preset, str) and preset in presets:
        found = presets[preset]
        if not issubclass(found.model_class(), model_class):
            raise PresetError(
                f"Preset {preset!r} is a {found.class_path.partition(':')[2]}, not a {model_class.__name__}: "
                f"load it with zoo.load({preset!r})."
            )
        return found
    if isinstance(preset, str) and preset in own:
        return own[preset]
    choices = ", ".join(repr(v) for v in sorted(own)) or f"none (all presets: {', '.join(sorted(presets))})"
    raise PresetError(f"{model_class.__name__} has no preset {preset!r}. Its presets: {choices}.")


def _format_metrics(metrics):
    if "bits_per_dim" in metrics:
        return f"{metrics['bits_per_dim']:.4f} bits/dim (NLL {metrics['nll_nats']:.2f} nats)"
    if "elbo_nats" in metrics:
        return (f"ELBO {metrics['elbo_nats']:.2f} nats ({metrics['elbo_bits_per_dim']:.4f} bits/dim); "
                f"IWAE k={metrics['iwae_k']} {metrics['iwae_nats']:.2f} nats ({metrics['iwae_bits_per_dim']:.4f} bits/dim)")
    if "fid" in metrics:
        return (f"FID {metrics['fid']:.2f} (real floor {metrics['fid_floor']:.2f}), precision {metrics['precision']:.3f}, "
                f"recall {metrics['recall']:.3f}")
    if "accuracy" in metrics:
        return f"accuracy {metrics['accuracy']:.3f}"
    if "cycle_a_mae" in metrics:
        return (f"cycle error A {metrics['cycle_a_mae']:.3f}, B {metrics['cycle_b_mae']:.3f}; translations classified "
                f"as the target: A to B {metrics['a2b_accuracy']:.1%}, B to A {metrics['b2a_accuracy']:.1%}")
    return ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))


def presets_table(directory=None):
    """`list_presets()` as a Markdown table (the one in the README)."""
    rows = list_presets(directory)
    slices = {row["metrics_slice"] for row in rows}
    shared = slices.pop() if len(slices) == 1 else None
    lines = [
        f"| preset | load with | data | metric on {shared or 'the test slice'} | weights | trained with |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        metric = _format_metrics(row["metrics"]) + ("" if shared else f" ({row['metrics_slice']})")
        lines.append(
            f"| `{row['name']}` | `{row['from_preset']}` | {row['dataset']}, {row['preprocessing']} | {metric} | "
            f"{row['size_bytes'] / 2**20:.1f} MB | `{row['command']}` |"
        )
    return "\n".join(lines)
