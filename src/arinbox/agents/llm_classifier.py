"""The LLM intent classifier behind the ``Classifier`` port, alone (``llm``) or behind the embedded
model (``hybrid``: only emails the embedded model is unsure of are sent).

The model gets the reviewed prompt (``agents/prompts/classify.md``) and the masked text only: the
classify node passes nothing else, and neither does this module (no sender, no headers). The answer
is a pydantic schema through langchain-openai's structured output. Whenever the LLM cannot answer —
timeout, HTTP error, an answer that breaks the schema after retries, the token budget spent — the
embedded result stands and ``Classification.engine`` says so, e.g.
``hybrid:embedded-tfidf-lr:1639:t0.53(llm-failed: timeout)``. A good answer is recorded as
``llm:openai:<model name the server reported>`` (``hybrid:llm:...`` in hybrid mode).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import openai
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from arinbox.agents.classifier import EmbeddedClassifier
from arinbox.domain.errors import ConfigError
from arinbox.domain.models import Classification, Intent, ParsedEmail
from arinbox.settings import LlmSettings

CHARS_PER_TOKEN = 4  # an estimate: exact tokenizers need files the deployment may not be able to fetch
PROMPT_OVERHEAD_TOKENS = 300  # the schema and message framing the client adds to the request
RATIONALE_MAX = 300


class IntentAnswer(BaseModel):
    """What the model must answer: strict JSON schema, every field required."""

    model_config = ConfigDict(extra="forbid")

    intent: Intent = Field(description="the primary intent")
    secondary_intents: list[Intent] = Field(description="further intents in the same email, possibly none")
    confidence: float = Field(ge=0, le=1, description="probability that the primary intent is right")
    rationale: str = Field(description="one short sentence: the words of the email that decided it")


class LlmFailure(Exception):
    """The LLM gave no usable answer; ``reason`` is the short text the engine field records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """The first ``max_tokens`` (estimated) of the text, cut at a space so no placeholder is split."""
    limit = max_tokens * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > limit // 2 else limit]


class TokenBudget:
    """Tokens spent by this process, in all and per UTC day; 0 means no limit."""

    def __init__(self, daily: int = 0, total: int = 0, today: Callable[[], dt.date] | None = None) -> None:
        self.daily, self.total = daily, total
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._lock = threading.Lock()
        self._day = self._today()
        self.spent_today = self.spent_total = 0

    def refusal(self, tokens: int) -> str | None:
        """Why a request of ``tokens`` must not be sent, or None."""
        with self._lock:
            self._roll()
            if self.total and self.spent_total + tokens > self.total:
                return "total token budget spent"
            if self.daily and self.spent_today + tokens > self.daily:
                return "daily token budget spent"
            return None

    def spend(self, tokens: int) -> None:
        with self._lock:
            self._roll()
            self.spent_today += tokens
            self.spent_total += tokens

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self.spent_today = today, 0


def load_prompt(path: Path) -> str:
    """The reviewed system prompt; it must name every intent the schema allows."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the classifier prompt: {e.strerror}") from None
    missing = [i.value for i in Intent if i.value not in text]
    if missing:
        raise ConfigError(f"{path}: the prompt does not describe the intents {', '.join(missing)}")
    return text


def _api_key(cfg: LlmSettings) -> SecretStr | None:
    if cfg.api_key is not None:
        return cfg.api_key
    if cfg.api_key_file is not None:
        try:
            return SecretStr(cfg.api_key_file.read_text(encoding="utf-8").strip())
        except OSError as e:
            raise ConfigError(f"ARINBOX_LLM__API_KEY_FILE: {cfg.api_key_file}: {e.strerror}") from None
    standard = "AZURE_OPENAI_API_KEY" if cfg.provider == "azure" else "OPENAI_API_KEY"
    if os.environ.get(standard):
        return None  # the client reads it
    if cfg.provider == "openai" and cfg.base_url:
        return SecretStr("unused")  # a local OpenAI-compatible server usually wants no key
    raise ConfigError(f"the LLM classifier needs an API key: set ARINBOX_LLM__API_KEY, "
                      f"ARINBOX_LLM__API_KEY_FILE or {standard}")


def build_chat_model(cfg: LlmSettings) -> BaseChatModel:
    """ChatOpenAI (OpenAI or any OpenAI-compatible base URL) or AzureChatOpenAI, from settings."""
    from langchain_openai import AzureChatOpenAI, ChatOpenAI

    key = _api_key(cfg)
    common: dict[str, Any] = {"timeout": cfg.timeout_seconds, "max_retries": cfg.max_retries, "temperature": 0}
    if key is not None:
        common["api_key"] = key
    if cfg.provider == "azure":
        if not cfg.azure_endpoint or not cfg.azure_deployment:
            raise ConfigError("the azure LLM provider needs ARINBOX_LLM__AZURE_ENDPOINT and "
                              "ARINBOX_LLM__AZURE_DEPLOYMENT")
        return AzureChatOpenAI(azure_endpoint=cfg.azure_endpoint, azure_deployment=cfg.azure_deployment,
                               api_version=cfg.azure_api_version, model=cfg.model, **common)
    return ChatOpenAI(model=cfg.model, base_url=cfg.base_url, **common)


@dataclass(frozen=True)
class LlmReply:
    answer: IntentAnswer
    model: str  # the model (and version) the server says answered
    tokens: int


class LlmIntentModel:
    """One structured-output call: the prompt and masked text in, an ``IntentAnswer`` out or ``LlmFailure``."""

    def __init__(self, chat: BaseChatModel, prompt: str, provider: str,
                 method: Literal["json_schema", "function_calling"] = "json_schema",
                 output_retries: int = 1, budget: TokenBudget | None = None) -> None:
        self.provider, self.prompt = provider, prompt
        self.configured_model = str(getattr(chat, "model_name", None) or getattr(chat, "deployment_name", "") or "")
        strict = True if method == "json_schema" else None
        self._chain: Runnable[Any, Any] = chat.with_structured_output(
            IntentAnswer, method=method, include_raw=True, strict=strict)
        self._output_retries = output_retries
        self.budget = budget or TokenBudget()

    def ask(self, masked_text: str) -> LlmReply:
        messages = [SystemMessage(self.prompt), HumanMessage(f"<email>\n{masked_text}\n</email>")]
        estimate = estimate_tokens(self.prompt) + estimate_tokens(masked_text) + PROMPT_OVERHEAD_TOKENS
        malformed = "malformed output"
        for _attempt in range(1 + self._output_retries):
            refusal = self.budget.refusal(estimate)
            if refusal:
                raise LlmFailure(refusal)
            try:
                result = self._chain.invoke(messages)
            except openai.APITimeoutError:
                self.budget.spend(estimate)  # the server may have worked on it
                raise LlmFailure("timeout") from None
            except openai.APIStatusError as e:
                raise LlmFailure(f"http {e.status_code}") from None
            except openai.APIConnectionError:
                raise LlmFailure("connection failed") from None
            except (ValidationError, OutputParserException, ValueError) as e:
                # the client parses json_schema answers itself and raises; no usage is reported then
                self.budget.spend(estimate)
                malformed = _malformed(e)
                continue
            raw: AIMessage = result["raw"]
            usage = raw.usage_metadata
            self.budget.spend(usage["total_tokens"] if usage else estimate)
            if result.get("parsing_error") is not None or not isinstance(result.get("parsed"), IntentAnswer):
                malformed = _malformed(result.get("parsing_error"))
                continue
            model = str(raw.response_metadata.get("model_name") or self.configured_model)
            return LlmReply(result["parsed"], model, usage["total_tokens"] if usage else estimate)
        raise LlmFailure(malformed)


def _malformed(error: object) -> str:
    if isinstance(error, ValidationError):
        kinds = {e["type"] for e in error.errors()}
        return "malformed output: not JSON" if kinds & {"json_invalid", "json_type"} else \
            "malformed output: wrong schema"
    return "malformed output"


class LlmClassifier:
    """``mode="llm"``: every email is asked; ``mode="hybrid"``: only those whose embedded confidence is
    below ``threshold``. Structural auto-replies (RFC 3834, DSN) never reach the LLM."""

    name = "llm"

    def __init__(self, embedded: EmbeddedClassifier, model: LlmIntentModel, mode: Literal["llm", "hybrid"],
                 threshold: float = 0.8, max_email_tokens: int = 1500) -> None:
        self.embedded, self.model, self.mode = embedded, model, mode
        self.threshold, self.max_email_tokens = threshold, max_email_tokens

    def classify(self, email: ParsedEmail, masked_text: str) -> Classification:
        base = self.embedded.classify(email, masked_text)
        if base.rule is not None or (self.mode == "hybrid" and base.confidence >= self.threshold):
            return base.model_copy(update={"engine": f"{self.mode}:{base.engine}"})
        try:
            reply = self.model.ask(truncate_to_tokens(masked_text, self.max_email_tokens))
        except LlmFailure as e:
            return base.model_copy(update={"engine": f"{self.mode}:{base.engine}(llm-failed: {e.reason})"})
        a = reply.answer
        secondary = list(dict.fromkeys(i for i in a.secondary_intents
                                       if i != a.intent and i not in (Intent.AUTO_REPLY, Intent.OTHER)))
        return Classification(
            intent=a.intent, confidence=round(a.confidence, 4), secondary=secondary, language=base.language,
            engine=f"{'hybrid:' if self.mode == 'hybrid' else ''}llm:{self.model.provider}:{reply.model}",
            scores={a.intent.value: a.confidence},
            cues=base.cues, rationale=a.rationale.strip()[:RATIONALE_MAX] or None,
        )


def build_llm_classifier(embedded: EmbeddedClassifier, cfg: LlmSettings, mode: Literal["llm", "hybrid"],
                         data_root: Path) -> LlmClassifier:
    prompt = load_prompt(cfg.prompt_file or data_root / "agents" / "prompts" / "classify.md")
    budget = TokenBudget(daily=cfg.daily_token_budget, total=cfg.total_token_budget)
    model = LlmIntentModel(build_chat_model(cfg), prompt, cfg.provider, cfg.structured_output,
                           cfg.output_retries, budget)
    return LlmClassifier(embedded, model, mode, cfg.hybrid_threshold, cfg.max_email_tokens)
