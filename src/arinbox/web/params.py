"""Query parameters of the list pages and their API twins, checked with a one-line message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import cast

from arinbox.domain.errors import ArinboxError
from arinbox.web.email_query import STATUSES, EmailFilter
from arinbox.web.queue_query import SORTS, TIERS, QueueFilter, Sort

MAX_PAGE = 100_000


class BadParameter(ArinboxError):
    """A query parameter that cannot be read (HTTP 400)."""


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    return value or None


def _page(params: Mapping[str, str]) -> int:
    raw = _text(params, "page") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadParameter(f"page must be a whole number from 1, not {raw!r}")
    return int(raw)


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(params, name)
    if value is not None and value not in allowed:
        raise BadParameter(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def queue_filter(params: Mapping[str, str], page_size: int) -> QueueFilter:
    min_amount = _text(params, "min_amount")
    min_age = _text(params, "min_age_hours")
    try:
        amount = Decimal(min_amount) if min_amount else None
        hours = float(min_age) if min_age else None
    except (InvalidOperation, ValueError):
        raise BadParameter(f"min_amount and min_age_hours must be numbers, not {min_amount or min_age!r}") from None
    if (amount is not None and not amount.is_finite()) or (hours is not None and not 0 <= hours < 1e6):
        raise BadParameter("min_amount and min_age_hours must be finite, non-negative numbers")
    sort = _choice(params, "sort", SORTS) or "oldest"
    return QueueFilter(intent=_text(params, "intent"), tier=_choice(params, "tier", TIERS),
                       customer=_text(params, "customer"), min_amount=amount, min_age_hours=hours,
                       sort=cast(Sort, sort), page=_page(params), page_size=page_size)


def email_filter(params: Mapping[str, str], page_size: int) -> EmailFilter:
    return EmailFilter(customer=_text(params, "customer"), invoice=_text(params, "invoice"),
                       intent=_text(params, "intent"), status=_choice(params, "status", STATUSES),
                       page=_page(params), page_size=page_size)


def since_date(params: Mapping[str, str]) -> dt.date | None:
    value = _text(params, "since")
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"since must be a date (YYYY-MM-DD), not {value!r}") from None
