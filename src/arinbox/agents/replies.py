"""Reply drafts from Jinja2 templates in ``agents/templates/<lang>/``, filled with ledger facts only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from arinbox.documents.formats import LANGUAGES, day, money
from arinbox.domain.errors import ConfigError


class ReplyRenderer:
    def __init__(self, template_dir: Path, company_name: str) -> None:
        if not template_dir.is_dir():
            raise ConfigError(f"reply template folder {template_dir} does not exist")
        self._env = Environment(loader=FileSystemLoader(template_dir), undefined=StrictUndefined,
                                autoescape=False, keep_trailing_newline=False, trim_blocks=False)
        self._env.filters["money"] = _money
        self._env.filters["longdate"] = _longdate
        labels_file = template_dir / "labels.yaml"
        self._labels: dict[str, dict[str, dict[str, str]]] = yaml.safe_load(labels_file.read_text("utf-8"))
        self.company_name = company_name

    def label(self, language: str, group: str, code: str) -> str:
        return self._labels.get(self.language(language), self._labels["en"])[group].get(code, code)

    @staticmethod
    def language(language: str) -> str:
        return language if language in LANGUAGES else "en"

    def render(self, name: str, language: str, **context: Any) -> str:
        lang = self.language(language)
        template = self._env.get_template(f"{lang}/{name}.txt.j2")
        # ``attached``: the proposal attaches documents (invoice copies, a statement) and the text says so
        text = template.render(lang=lang, company_name=self.company_name, **({"attached": False} | context))
        return tidy(text)


def tidy(text: str) -> str:
    """Template loops leave blank lines: list items sit together, paragraphs keep one blank line."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for i, line in enumerate(lines):
        if not line:
            after = next((x for x in lines[i + 1:] if x), "")
            if not out or not out[-1] or (out[-1].startswith("- ") and after.startswith("- ")):
                continue
        out.append(line)
    return "\n".join(out) + "\n"


@pass_context
def _money(ctx: Context, amount: Decimal | str, currency: str | None) -> str:
    return money(amount, currency, ctx["lang"])


@pass_context
def _longdate(ctx: Context, value: dt.date | str) -> str:
    return day(value, ctx["lang"])
