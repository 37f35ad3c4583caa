"""The composition root: the one place where real adapters are built and wired."""

from __future__ import annotations

import time
from contextlib import ExitStack
from functools import cached_property, lru_cache
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from arinbox.agents.classifier import EmbeddedClassifier
from arinbox.agents.context import Deps, LiveLedgerRefs
from arinbox.agents.graph import build_graph
from arinbox.agents.propose import Proposer
from arinbox.agents.replies import ReplyRenderer
from arinbox.connectors.folder import FolderOutbox
from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import Classifier, Ledger, Outbox
from arinbox.ledger.csv_import import ledger_revision
from arinbox.ledger.sql_ledger import SqlLedger
from arinbox.masking.engine import build_analyzer
from arinbox.masking.masker import PresidioMasker, load_allow_list
from arinbox.masking.vault import Vault
from arinbox.persistence.db import make_engine, make_session_factory, upgrade
from arinbox.policies.reconciliation import ReconciliationRules, load_reconciliation
from arinbox.policies.schema import Policy, load_policy
from arinbox.service.checkpoints import checkpoint_target, open_checkpointer
from arinbox.service.outboxes import RoutedOutbox
from arinbox.service.processor import Processor
from arinbox.service.prometheus_metrics import Metrics
from arinbox.settings import Settings

ERP_REFRESH_S = 300  # how often a long-running process re-reads an ERP's customers and numbering


@lru_cache(maxsize=2)
def embedded_classifier(training_file: Path, cues_file: Path, cache_dir: Path | None = None) -> EmbeddedClassifier:
    """Trained once per process (or read from ``cache_dir``): the model is read-only after fitting."""
    return EmbeddedClassifier(training_file, cues_file, cache_dir=cache_dir)


class App:
    """Everything a command needs, built lazily: importing a ledger does not load spaCy."""

    def __init__(self, settings: Settings, policy_file: Path | None = None) -> None:
        self.settings = settings
        self._policy_file = policy_file or settings.policy_path
        self._stack = ExitStack()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        if "engine" in self.__dict__:
            self.engine.dispose()

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.settings.database_url)
        upgrade(engine)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def ledger(self) -> Ledger:
        if self.settings.ledger_backend == "rest":
            from arinbox.ledger.rest_erp import RestErpLedger, load_erp_config

            if self.settings.erp_config_file is None:
                raise ConfigError("ARINBOX_LEDGER_BACKEND=rest needs ARINBOX_ERP_CONFIG_FILE (an ERP YAML file)")
            rest = RestErpLedger(load_erp_config(self.settings.erp_config_file))
            self._stack.callback(rest.close)
            return rest
        return SqlLedger(self.sessions)

    def _ledger_revision(self) -> int:
        """Imports bump the embedded ledger's revision; an ERP's numbering is re-read every few minutes."""
        if self.settings.ledger_backend == "rest":
            return int(time.time() // ERP_REFRESH_S)
        return ledger_revision(self.sessions)

    @property
    def policy_file(self) -> Path:
        return self._policy_file

    @cached_property
    def policy(self) -> Policy:
        return load_policy(self._policy_file)

    @cached_property
    def reconciliation(self) -> ReconciliationRules:
        return load_reconciliation(self.settings.reconciliation_path)

    @cached_property
    def masker(self) -> PresidioMasker:
        root = self.settings.data_root
        analyzer = build_analyzer(self.settings.spacy_model, root / "masking" / "recognizers.yaml")
        return PresidioMasker(analyzer, allow_list=load_allow_list(root / "masking" / "allow_list.yaml"))

    @cached_property
    def classifier(self) -> Classifier:
        root = self.settings.data_root
        embedded = embedded_classifier(root / "agents" / "training", root / "agents" / "intent_cues.yaml",
                                       self.settings.model_cache_path)
        engine = self.settings.classifier_engine
        if engine == "embedded":
            return embedded
        from arinbox.agents.llm_classifier import build_llm_classifier  # langchain-openai only when asked

        return build_llm_classifier(embedded, self.settings.llm, engine, root)

    @cached_property
    def outbox(self) -> RoutedOutbox:
        routed = RoutedOutbox(self.sessions, FolderOutbox(self.settings.outbox_dir), self._mailbox_outbox)
        self._stack.callback(routed.close)
        return routed

    def _mailbox_outbox(self, name: str) -> Outbox | None:
        """The outbox of a mailbox configured in mailboxes.yaml; None for folders and unknown names."""
        from arinbox.connectors.config import FolderMailboxConfig, load_mailboxes
        from arinbox.service.mailboxes import build_outbox, load_mailbox, mailboxes_path

        path = mailboxes_path(self.settings)
        if not path.exists() or name not in {mb.name for mb in load_mailboxes(path).mailboxes}:
            return None
        config = load_mailbox(self.settings, name)
        return None if isinstance(config, FolderMailboxConfig) else build_outbox(config, self.sessions, self.settings)

    @cached_property
    def deps(self) -> Deps:
        root = self.settings.data_root
        return Deps(
            sessions=self.sessions,
            ledger=self.ledger,
            refs_source=LiveLedgerRefs(self.ledger, self._ledger_revision,
                                       (self.settings.company_name,)),
            masker=self.masker,
            classifier=self.classifier,
            proposer=Proposer(ReplyRenderer(root / "agents" / "templates", self.settings.company_name),
                              self.reconciliation),
            policy=self.policy,
            outbox=self.outbox,
            vault=Vault(self.settings.vault_key_bytes()),
            mailbox_address=self.settings.mailbox_address,
            dispute_owner=self.settings.dispute_owner,
            company_name=self.settings.company_name,
        )

    @cached_property
    def processor(self) -> Processor:
        target = checkpoint_target(self.settings.database_url, self.settings.checkpoint_url)
        saver, conn = open_checkpointer(target)
        self._stack.callback(conn.close)
        processor = Processor(self.deps, build_graph(saver), self.settings.service)
        processor.observers.append(self.metrics)
        self._stack.callback(processor.close)
        return processor

    @cached_property
    def metrics(self) -> Metrics:
        """Prometheus metrics of this process and of the queue (``/metrics``)."""
        return Metrics(self.sessions)
