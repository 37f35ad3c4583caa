"""The LLM and hybrid classifier through real HTTP to a local OpenAI-compatible server.

langchain-openai's ``ChatOpenAI.with_structured_output`` (pydantic schema, ``method="json_schema"``)
sends ``response_format: {"type": "json_schema", "strict": true, ...}`` and the openai client parses
``choices[0].message.content`` itself; ``function_calling`` forces a tool call whose ``arguments``
carry the JSON. The server answers in whichever shape the request asked for.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arinbox.agents.classifier import EmbeddedClassifier
from arinbox.agents.llm_classifier import LlmClassifier, TokenBudget, build_llm_classifier, load_prompt
from arinbox.agents.model_cache import default_cache_dir
from arinbox.connectors.folder import FolderMailbox
from arinbox.domain.errors import ConfigError
from arinbox.domain.models import Intent, ParsedEmail
from arinbox.evaluation.labels import load_labels
from arinbox.ledger.csv_import import import_ledger
from arinbox.mail.parse import parse_email
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App, embedded_classifier
from arinbox.service.ingest import ingest
from arinbox.settings import LlmSettings, Settings
from tests.conftest import DATA, ROOT
from tests.support.openai_server import OpenAIServer, Reply

TRAINING = ROOT / "agents" / "training"
CUES = ROOT / "agents" / "intent_cues.yaml"
MINI = DATA / "mini"

EMAIL = ParsedEmail(message_id="<q@example.com>", subject="", sender="ap@customer.example", sender_name="",
                    body="", newest="")
CLEAR = ("Payment sent\nWe wired $4,830.00 today for invoice INV-2026-004512 by bank transfer. "
         "Please apply it to the invoice. Regards")
VAGUE = "Re: your message\nHello <PERSON_1>, see my notes on INV-2026-004513 below, thanks."
GOOD: dict[str, Any] = {"intent": "dispute", "secondary_intents": ["remittance_advice"], "confidence": 0.91,
                        "rationale": "The customer contests the price on the invoice."}


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def embedded() -> EmbeddedClassifier:
    return embedded_classifier(TRAINING, CUES, default_cache_dir())


def llm(embedded: EmbeddedClassifier, server: OpenAIServer, mode: str = "llm", **cfg: Any) -> LlmClassifier:
    cfg = {"timeout_seconds": 2, "max_retries": 0, "output_retries": 1, **cfg}
    settings = LlmSettings(base_url=server.base_url, model="gpt-test", **cfg)
    return build_llm_classifier(embedded, settings, mode, ROOT)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_a_good_structured_answer_becomes_the_classification(
        embedded: EmbeddedClassifier, server: OpenAIServer, method: str) -> None:
    server.push(Reply(GOOD))
    result = llm(embedded, server, structured_output=method).classify(EMAIL, VAGUE)
    assert (result.intent, result.confidence, result.secondary) == (Intent.DISPUTE, 0.91, [Intent.REMITTANCE_ADVICE])
    assert result.engine == "llm:openai:gpt-test"
    assert result.rationale == GOOD["rationale"]
    assert result.language == "en"
    (request,) = server.requests
    body = request.body
    assert body["model"] == "gpt-test" and body["temperature"] == 0
    if method == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        schema = body["response_format"]["json_schema"]["schema"]
    else:
        schema = body["tools"][0]["function"]["parameters"]
    assert set(schema["required"]) == {"intent", "secondary_intents", "confidence", "rationale"}
    system, user = body["messages"]
    assert system["role"] == "system" and system["content"] == load_prompt(ROOT / "agents/prompts/classify.md")
    assert user["role"] == "user" and VAGUE in user["content"]


def test_azure_openai_deployment(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    server.push(Reply(GOOD))
    cfg = LlmSettings(provider="azure", azure_endpoint=server.url, azure_deployment="ar-classifier",
                      api_key="test-key", max_retries=0, timeout_seconds=2)
    result = build_llm_classifier(embedded, cfg, "llm", ROOT).classify(EMAIL, VAGUE)
    assert result.intent is Intent.DISPUTE
    (request,) = server.requests
    assert request.path == "/openai/deployments/ar-classifier/chat/completions?api-version=2024-10-21"
    assert request.headers["api-key"] == "test-key"


@pytest.mark.parametrize(("replies", "reason"), [
    (["{not json", "{not json either"], "malformed output: not JSON"),
    ([{"intent": "gossip", "secondary_intents": [], "confidence": 0.9, "rationale": "x"},
      {"intent": "dispute", "confidence": 7, "secondary_intents": [], "rationale": "x"}],
     "malformed output: wrong schema"),
])
def test_malformed_answers_after_the_retry_leave_the_embedded_result(
        embedded: EmbeddedClassifier, server: OpenAIServer, replies: list[Any], reason: str) -> None:
    server.push(*(Reply(r) for r in replies))
    result = llm(embedded, server).classify(EMAIL, VAGUE)
    base = embedded.classify(EMAIL, VAGUE)
    assert (result.intent, result.confidence) == (base.intent, base.confidence)
    assert result.engine == f"llm:{base.engine}(llm-failed: {reason})"
    assert len(server.requests) == 2  # one answer, one retry


def test_a_malformed_answer_then_a_good_one(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    server.push(Reply("{not json"), Reply(GOOD))
    result = llm(embedded, server).classify(EMAIL, VAGUE)
    assert result.intent is Intent.DISPUTE and result.engine == "llm:openai:gpt-test"


def test_a_timeout_leaves_the_embedded_result(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    server.push(Reply(GOOD, delay=3))
    started = time.perf_counter()
    result = llm(embedded, server, timeout_seconds=0.3).classify(EMAIL, VAGUE)
    assert time.perf_counter() - started < 2.5
    assert result.engine.endswith("(llm-failed: timeout)")
    assert result.intent == embedded.classify(EMAIL, VAGUE).intent


def test_a_server_error_is_retried(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    server.push(Reply(status=500), Reply(GOOD))
    result = llm(embedded, server, max_retries=1).classify(EMAIL, VAGUE)
    assert result.intent is Intent.DISPUTE and len(server.requests) == 2


def test_a_server_error_without_retries_left(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    server.push(Reply(status=503), Reply(status=503))
    result = llm(embedded, server, max_retries=1).classify(EMAIL, VAGUE)
    assert result.engine.endswith("(llm-failed: http 503)")


def test_a_spent_budget_stops_requests(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    server.push(Reply(GOOD, prompt_tokens=1400, completion_tokens=40), Reply(GOOD))
    classifier = llm(embedded, server, total_token_budget=2000)
    assert classifier.classify(EMAIL, VAGUE).engine == "llm:openai:gpt-test"
    assert classifier.model.budget.spent_total == 1440  # what the server reported
    second = classifier.classify(EMAIL, VAGUE)
    assert second.engine.endswith("(llm-failed: total token budget spent)")
    assert len(server.requests) == 1


def test_the_daily_budget_opens_again_the_next_day() -> None:
    day = [1]
    budget = TokenBudget(daily=100, today=lambda: dt.date(2026, 3, day[0]))
    budget.spend(90)
    assert budget.refusal(20) == "daily token budget spent"
    day[0] = 2
    assert budget.refusal(20) is None and budget.spent_total == 90


def test_long_text_is_cut_to_the_per_email_budget(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    server.push(Reply(GOOD))
    long_text = VAGUE + " The price on line 3 is wrong." * 400
    llm(embedded, server, max_email_tokens=100).classify(EMAIL, long_text)
    sent = server.requests[0].body["messages"][1]["content"]
    assert VAGUE in sent and len(sent) <= 100 * 4 + len("<email>\n\n</email>")


def test_hybrid_sends_only_unsure_emails(embedded: EmbeddedClassifier, server: OpenAIServer) -> None:
    threshold = 0.8
    assert embedded.classify(EMAIL, CLEAR).confidence >= threshold > embedded.classify(EMAIL, VAGUE).confidence
    server.push(Reply(GOOD))
    hybrid = llm(embedded, server, mode="hybrid", hybrid_threshold=threshold)
    sure = hybrid.classify(EMAIL, CLEAR)
    unsure = hybrid.classify(EMAIL, VAGUE)
    ooo = parse_email(b"From: a@example.com\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nAway.\r\n")
    auto = hybrid.classify(ooo, "Out of office\nAway.")
    assert sure.intent is Intent.REMITTANCE_ADVICE and sure.engine.startswith("hybrid:embedded-tfidf-lr")
    assert unsure.intent is Intent.DISPUTE and unsure.engine == "hybrid:llm:openai:gpt-test"
    assert auto.intent is Intent.AUTO_REPLY and "llm" not in auto.engine
    (request,) = server.requests
    assert VAGUE in request.text() and CLEAR not in request.text()


def test_a_prompt_missing_an_intent_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "prompt.md"
    bad.write_text("Classify: dispute or remittance_advice.")
    with pytest.raises(ConfigError, match=r"prompt.md: the prompt does not describe the intents invoice_request"):
        load_prompt(bad)


def test_no_key_for_the_public_api_is_a_config_error(embedded: EmbeddedClassifier,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ARINBOX_LLM__API_KEY"):
        build_llm_classifier(embedded, LlmSettings(), "llm", ROOT)


def test_only_masked_text_reaches_the_llm(settings: Settings, server: OpenAIServer) -> None:
    """The whole graph with the LLM engine: no labelled personal value of the mini corpus is sent."""
    server.push(*(Reply(GOOD) for _ in range(10)))
    settings = settings.model_copy(update={
        "classifier_engine": "llm",
        "llm": LlmSettings(base_url=server.base_url, model="gpt-test", max_retries=0, timeout_seconds=5)})
    pii = [v for label in load_labels(MINI / "labels.jsonl") for v in (label.pii or [])]
    assert pii
    with App(settings) as app:
        import_ledger(MINI / "ledger", app.sessions)
        ingest(FolderMailbox(MINI / "emails"), app.sessions, kind="folder")
        app.processor.process_all()
        with app.sessions() as s:
            engines = [json.loads(r.body)["engine"] for r in s.scalars(
                select(m.TraceRecord).where(m.TraceRecord.node == "classify"))]
    assert engines.count("llm:openai:gpt-test") == len(server.requests) >= 5
    sent = "\n".join(r.text() for r in server.requests)
    assert "<PERSON_" in sent  # names were there, masked
    leaked = [v for v in pii if v.lower() in sent.lower()]
    assert leaked == []
    for r in server.requests:
        assert "@" not in r.body["messages"][1]["content"].replace("<EMAIL_ADDRESS_", "")
