"""Atomic file writes: a reader (a resumed run, TF Serving, a test) sees the old file or the new one, never half.

Every writer writes a temporary file in the destination's directory and renames it over the destination with
`os.replace`, which is atomic on POSIX file systems when both names are on the same file system (hence the
same directory). The temporary name starts with a dot, so globs such as `epoch_*.keras` never match it, holds
the process id, so two processes writing the same file do not write into each other's temporary file, and
ends with the destination's extension (everything from its first dot, e.g. `.weights.h5`), because Keras and
PIL choose the format from it.

Example:
    >>> from zoo.utils import atomic
    >>> atomic.write_json("run/metrics.json", {"loss": 0.1}, indent=2, sort_keys=True)
    >>> with atomic.destination("run/model.keras") as tmp:
    ...     model.save(tmp)          # any writer that takes a path
"""

import contextlib
import json
import os
import shutil


def _temporary_name(path):
    directory, base = os.path.split(path)
    dot = base.find(".", 1)
    extension = base[dot:] if dot > 0 else ""
    return os.path.join(directory, f".{base}.{os.getpid()}.tmp{extension}")


@contextlib.contextmanager
def destination(path):
    """Yields a temporary path beside `path`; renames it to `path` when the block ends without an exception.

    On an exception the temporary file is removed (if the writer made it) and the exception propagates;
    `path` is left as it was.
    """
    tmp = _temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text(path, text, newline=None):
    """Writes the string `text` to `path` atomically. `newline` is `open`'s (e.g. "" for `csv`)."""
    with destination(path) as tmp, open(tmp, "w", newline=newline) as f:
        f.write(text)


def write_bytes(path, data):
    """Writes `data` (bytes) to `path` atomically."""
    with destination(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_json(path, value, trailing_newline=False, **dump_kwargs):
    """Writes `value` as JSON (`json.dump(value, f, **dump_kwargs)`) to `path` atomically.

    Args:
        path: the destination.
        value: a JSON-serializable value.
        trailing_newline: end the file with a newline.
        **dump_kwargs: `json.dump` options, e.g. `indent=2, sort_keys=True`.
    """
    write_text(path, json.dumps(value, **dump_kwargs) + ("\n" if trailing_newline else ""))


def copy(source, path):
    """Copies the file `source` to `path` atomically (contents only, as `shutil.copyfile`)."""
    with destination(path) as tmp:
        shutil.copyfile(source, tmp)
