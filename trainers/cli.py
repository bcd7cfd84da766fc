"""The report line of every absl main: `run_and_report` (one JSON line out, or one `error:` line).

It lives in `zoo.utils.cli`, below both `trainers/` and `export/`; the trainers' mains import it from here.
"""

from zoo.utils.cli import run_and_report

__all__ = ["run_and_report"]
