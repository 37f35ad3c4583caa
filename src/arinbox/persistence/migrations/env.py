"""Alembic environment: runs on the connection handed in by ``arinbox.persistence.db.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from arinbox.persistence.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # plain `alembic` command line use: -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///arinbox.sqlite")
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
