"""What every graph node receives through the LangGraph runtime: ports and configuration.

Built once by ``service.bootstrap``; nodes never reach for module globals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from arinbox.agents.propose import Proposer
from arinbox.domain.ports import Classifier, Ledger, Masker, Outbox
from arinbox.masking.vault import Vault
from arinbox.policies.schema import Policy


@dataclass(frozen=True)
class Deps:
    sessions: sessionmaker[Session]
    ledger: Ledger
    masker: Masker
    classifier: Classifier
    proposer: Proposer
    policy: Policy
    outbox: Outbox
    vault: Vault
    mailbox_address: str
    dispute_owner: str
