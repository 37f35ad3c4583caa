from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.persistence.db import make_engine, make_session_factory, upgrade


@pytest.fixture
def sessions(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory.begin() as s:
        for i in range(5):
            trace.append(s, key=f"k{i}", node="node", work_item_id=None, body={"i": i, "text": f"record {i}"})
    yield factory
    engine.dispose()


def test_intact_chain_verifies(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as s:
        report = trace.verify(s)
    assert report.ok and report.records == 5


def test_append_is_idempotent_by_key(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        assert trace.append(s, key="k1", node="node", work_item_id=None, body={"i": 99}) is False
    with sessions() as s:
        assert len(s.scalars(select(m.TraceRecord)).all()) == 5


def test_edited_record_is_detected(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        s.execute(update(m.TraceRecord).where(m.TraceRecord.key == "k2").values(body='{"i":2,"text":"forged"}'))
    with sessions() as s:
        report = trace.verify(s)
    assert not report.ok and "edited" in report.problem
    with sessions() as s:
        assert report.first_bad_id == s.scalar(select(m.TraceRecord.id).where(m.TraceRecord.key == "k2"))


def test_deleted_record_is_detected(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        s.execute(delete(m.TraceRecord).where(m.TraceRecord.key == "k3"))
    with sessions() as s:
        report = trace.verify(s)
    assert not report.ok and "deleted or moved" in report.problem


def test_reordered_records_are_detected(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        a = s.scalar(select(m.TraceRecord).where(m.TraceRecord.key == "k1"))
        b = s.scalar(select(m.TraceRecord).where(m.TraceRecord.key == "k2"))
        assert a is not None and b is not None
        fields = ("key", "node", "body", "created_at", "prev_hash", "hash")
        va, vb = ({f: getattr(x, f) for f in fields} for x in (a, b))
        # swap contents through a placeholder to respect the unique constraints
        for f in ("key", "hash"):
            setattr(a, f, "tmp-" + f)
        s.flush()
        for f in fields:
            setattr(b, f, va[f])
        s.flush()
        for f in fields:
            setattr(a, f, vb[f])
    with sessions() as s:
        assert not trace.verify(s).ok
