r"""Exports a trained zoo model for TF Serving: `python -m export.export --workdir=DIR --export_dir=BASE --name=NAME`.

Flags only; the logic is `export_model(ExportConfig(...))`. The model comes from a training workdir
(`WORKDIR/model.keras`, written by `trainers.train`) or from any `.keras` file (`--model_path`). The result is
`BASE/NAME/VERSION/` (SavedModel + warm-up requests) and an updated `BASE/models.config`; one JSON line with
the paths and signatures is printed.

Example:
    python -m export.export --workdir=runs/dcgan --export_dir=models --name=dcgan
    python -m export.export --model_path=runs/vae/model.keras --export_dir=models --name=vae --version=3 \
        --serving_base_path=/models
"""

import dataclasses
import json
import os
from typing import Optional

from absl import app, flags

from zoo.utils import cli


@dataclasses.dataclass
class ExportConfig:
    """What to export and where.

    Args:
        export_dir: the base directory BASE of the TF Serving layout `BASE/NAME/VERSION`.
        workdir: a training workdir holding `model.keras` (and `config.json`); exclusive with `model_path`.
        model_path: a `.keras` file; exclusive with `workdir`.
        name: the serving name; default: the registry name in `WORKDIR/config.json` (required with `model_path`).
        version: positive int; default: one more than the newest version of NAME in BASE.
        num_importance_samples: K of the VAE `log_prob_bound` signature. Default 100.
        serving_base_path: BASE as the server sees it, written into models.config (default: local absolute path).
    """

    export_dir: str
    workdir: Optional[str] = None
    model_path: Optional[str] = None
    name: Optional[str] = None
    version: Optional[int] = None
    num_importance_samples: int = 100
    serving_base_path: Optional[str] = None

    def resolved(self):
        """A copy with `model_path` and `name` filled in from the workdir; raises ValueError on a bad combination."""
        if bool(self.workdir) == bool(self.model_path):
            raise ValueError("Give exactly one of `workdir` (a training run) and `model_path` (a .keras file).")
        if not self.export_dir:
            raise ValueError("`export_dir` must be a directory path.")
        model_path, name = self.model_path, self.name
        if self.workdir:
            model_path = os.path.join(self.workdir, "model.keras")
            if name is None:
                try:
                    with open(os.path.join(self.workdir, "config.json")) as f:
                        name = json.load(f)["model"]
                except (OSError, ValueError, KeyError):
                    raise ValueError(f"`name` not given and {self.workdir}/config.json names no model; pass `name`.") from None
        if name is None:
            raise ValueError("`name` is required with `model_path`.")
        if not os.path.isfile(model_path):
            raise ValueError(f"No model at {model_path}: train one with `python -m trainers.train` or pass a .keras file.")
        return dataclasses.replace(self, model_path=model_path, name=name)


def export_model(config: ExportConfig):
    """Loads the model and writes the SavedModel, warm-up requests and models.config.

    Returns:
        A dict: `export_dir` (BASE/NAME/VERSION), `models_config`, `name`, `version`, `family`, `signatures`.
    """
    import keras

    import zoo.gan  # noqa: F401  Registers the zoo classes for `load_model`.
    import zoo.pixel  # noqa: F401
    import zoo.vae  # noqa: F401
    from export import saved_model

    cfg = config.resolved()
    model = keras.models.load_model(cfg.model_path, compile=False)
    path = saved_model.to_saved_model(
        model,
        cfg.export_dir,
        cfg.name,
        cfg.version,
        num_importance_samples=cfg.num_importance_samples,
        serving_base_path=cfg.serving_base_path,
    )
    kind = saved_model.signature_family(model)
    return {
        "export_dir": path,
        "models_config": os.path.join(cfg.export_dir, saved_model.MODELS_CONFIG),
        "name": cfg.name,
        "version": int(os.path.basename(path)),
        "family": kind,
        "signatures": ["serving_default", *saved_model.SIGNATURES[kind]],
    }


_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir holding model.keras and config.json.")
_MODEL_PATH = flags.DEFINE_string("model_path", None, "A .keras model file (instead of --workdir).")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Base directory of the TF Serving layout.", required=True)
_NAME = flags.DEFINE_string("name", None, "Serving name (default: the model name in WORKDIR/config.json).")
_VERSION = flags.DEFINE_integer("version", None, "Version number (default: the next free one).")
_SAMPLES = flags.DEFINE_integer("num_importance_samples", 100, "K of the VAE log_prob_bound signature.")
_SERVING_BASE = flags.DEFINE_string("serving_base_path", None, "BASE as the server sees it, for models.config.")


def main(argv):
    del argv
    config = ExportConfig(
        export_dir=_EXPORT_DIR.value,
        workdir=_WORKDIR.value,
        model_path=_MODEL_PATH.value,
        name=_NAME.value,
        version=_VERSION.value,
        num_importance_samples=_SAMPLES.value,
        serving_base_path=_SERVING_BASE.value,
    )
    cli.run_and_report(export_model, config, (ValueError, TypeError))


if __name__ == "__main__":
    app.run(main)
