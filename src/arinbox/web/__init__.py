"""The web console: FastAPI with server-rendered pages and a JSON API under /api/."""

from arinbox.web.app import create_app

__all__ = ["create_app"]
