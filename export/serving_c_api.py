"""Calls a SavedModel signature through TensorFlow's C API, in a separate process without Python.

TensorFlow Serving cannot be installed here, so this tests the loading path it uses: `run_signature.c`
(beside this file) is compiled once against the installed `tensorflow` wheel (`libtensorflow_cc.so.2` and
its headers), loads the SavedModel with `TF_LoadSessionFromSavedModel` and tag "serve", and runs the graph
tensors that the signature maps its inputs and outputs to.

Example:
    >>> from export import serving_c_api
    >>> outputs = serving_c_api.run_signature("models/dcgan/1", "serving_default", {"seed": seeds})
    >>> outputs["images_uint8"].shape
"""

import hashlib
import os
import subprocess
import tempfile

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from zoo.utils import atomic

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_signature.c")


class ServingError(RuntimeError):
    """The SavedModel refused a request (wrong shape, dtype, or a failed check inside the graph)."""


def binary_path(cache_dir=None):
    """Compiles `run_signature.c` if needed and returns the executable's path (cached by source hash)."""
    with open(_SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read() + tf.__version__.encode()).hexdigest()[:16]
    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "keras_generative_zoo")
    path = os.path.join(cache_dir, f"run_signature-{digest}")
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir, exist_ok=True)
    lib = tf.sysconfig.get_lib()
    with atomic.destination(path) as tmp:
        subprocess.run(
            [
                "gcc", "-O1", "-o", tmp, _SOURCE, f"-I{tf.sysconfig.get_include()}", f"-L{lib}",
                "-l:libtensorflow_cc.so.2", "-l:libtensorflow_framework.so.2", f"-Wl,-rpath,{lib}",
            ],
            check=True,
            capture_output=True,
        )
    return path


def signature_tensors(export_dir, signature):
    """The graph tensors behind a signature: `({key: (tensor_name, dtype, shape)}, {key: tensor_name})`."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graphs = [g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags]
    if not graphs:
        raise ServingError(f"{export_dir} has no MetaGraph tagged 'serve'.")
    signatures = graphs[0].signature_def
    if signature not in signatures:
        raise ServingError(f"{export_dir} has no signature {signature!r}; it has {sorted(signatures)}.")
    sig = signatures[signature]
    inputs = {
        key: (info.name, tf.dtypes.as_dtype(info.dtype), [d.size for d in info.tensor_shape.dim])
        for key, info in sig.inputs.items()
    }
    outputs = {key: info.name for key, info in sig.outputs.items()}
    return inputs, outputs


def run_signature(export_dir, signature, inputs, timeout=300):
    """Runs one signature of the SavedModel in `export_dir` through the C API.

    Args:
        export_dir: a SavedModel directory (e.g. `BASE/NAME/VERSION`).
        signature: signature name, e.g. "serving_default".
        inputs: dict from the signature's input keys to arrays (cast to the signature's dtypes).
        timeout: seconds before the process is killed.

    Returns:
        Dict from the signature's output keys to numpy arrays.

    Raises:
        ValueError: `inputs` does not have the signature's keys.
        ServingError: TensorFlow refused the request (the message is TensorFlow's).
    """
    specs, outputs = signature_tensors(export_dir, signature)
    if set(inputs) != set(specs):
        raise ValueError(f"Signature {signature!r} takes inputs {sorted(specs)}; got {sorted(inputs)}.")
    with tempfile.TemporaryDirectory() as tmp:
        args = [binary_path(), export_dir, str(len(specs)), str(len(outputs))]
        for i, (key, (tensor, dtype, _)) in enumerate(sorted(specs.items())):
            array = np.ascontiguousarray(np.asarray(inputs[key]).astype(dtype.as_numpy_dtype))
            path = os.path.join(tmp, f"in{i}")
            array.tofile(path)
            op, index = tensor.rsplit(":", 1)
            args += [op, index, str(dtype.as_datatype_enum), str(array.ndim), *map(str, array.shape), path]
        keys = sorted(outputs)
        for i, key in enumerate(keys):
            op, index = outputs[key].rsplit(":", 1)
            args += [op, index, os.path.join(tmp, f"out{i}")]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if "run_signature:" in line]
            raise ServingError(lines[-1] if lines else done.stderr.strip()[-2000:] or f"exit {done.returncode}")
        return {key: _read_output(os.path.join(tmp, f"out{i}")) for i, key in enumerate(keys)}


def _read_output(path):
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(8), np.int32)
        dtype, rank = tf.dtypes.as_dtype(int(header[0])).as_numpy_dtype, int(header[1])
        shape = tuple(np.frombuffer(f.read(8 * rank), np.int64)) if rank else ()
        return np.frombuffer(f.read(), dtype).reshape(shape)
