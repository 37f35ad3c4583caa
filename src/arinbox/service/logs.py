"""Structured logs: one JSON object per line, with the work item, node, status and worker when known.

Stdlib ``logging`` only; fields given through ``extra=`` become keys of the line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

# the attributes every LogRecord has; everything else came through ``extra=``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send arinbox's logs (and the libraries' warnings) to standard error, one event per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s "
                                                                              "%(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("arinbox").setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
