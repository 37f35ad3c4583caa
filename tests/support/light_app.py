"""A lighter composition for runs of thousands of emails: the regex masker (``masking/fake.py``) in
place of Presidio and spaCy, which cost ~150 ms per email here, and the embedded classifier fitted
once without its confidence calibration (three fewer fits at each worker's start). Everything else
is real: the graph, the classifier's model, extraction, the ledger, the policy, the checkpoints and
the claiming.

Also the entry point of worker processes in tests: ``python -m tests.support.light_app`` runs one
`arinbox worker` process with this composition (settings from ``ARINBOX_*`` variables).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

from arinbox.agents.classifier import EmbeddedClassifier
from arinbox.masking.fake import FakeMasker
from arinbox.service.bootstrap import App


class LightApp(App):
    @cached_property
    def masker(self) -> Any:  # type: ignore[override]
        return FakeMasker()

    @cached_property
    def outbox(self) -> Any:  # type: ignore[override]
        """Replies over SMTP to a test server when ``ARINBOX_TEST_SMTP_PORT`` is set."""
        port = os.environ.get("ARINBOX_TEST_SMTP_PORT")
        if not port:
            return super().outbox
        from arinbox.connectors.config import ImapMailboxConfig, Secret, SmtpConfig
        from arinbox.connectors.smtp import SmtpOutbox

        mailbox = ImapMailboxConfig(kind="imap", name="scale", address=self.settings.mailbox_address,
                                    host="127.0.0.1", username="unused", password=Secret(env="UNUSED"),
                                    smtp=SmtpConfig(host="127.0.0.1", port=int(port), security="none", timeout_s=5))
        return SmtpOutbox(mailbox, self.sessions)

    @cached_property
    def classifier(self) -> Any:
        root = self.settings.data_root
        return EmbeddedClassifier(root / "agents" / "training", root / "agents" / "intent_cues.yaml",
                                  calibration_folds=1)


def kill_at(plan: list[tuple[str, str]], done_file: str) -> None:
    """Make this process SIGKILL itself at the first (node, 'before'|'after') of ``plan`` not yet in
    ``done_file``, so a test can kill a worker at an exact graph node; each point fires once."""
    from arinbox.agents import nodes

    done = set(Path(done_file).read_text().split()) if os.path.exists(done_file) else set()
    todo = [f"{node}:{when}" for node, when in plan if f"{node}:{when}" not in done]
    if not todo:
        return
    target = todo[0]
    node_name, when = target.split(":")

    def die() -> None:
        with open(done_file, "a") as f:
            f.write(target + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    func_name = {"extract": "extract_facts"}.get(node_name, node_name)
    original = getattr(nodes, func_name)

    @functools.wraps(original)  # LangGraph reads the signature to pass the runtime
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if when == "before":
            die()
        result = original(*args, **kwargs)
        die()
        return result

    setattr(nodes, func_name, wrapped)


def main() -> None:
    from arinbox.service import logs
    from arinbox.service.runtime import run_worker
    from arinbox.settings import Settings

    plan = os.environ.get("ARINBOX_TEST_KILL_PLAN")
    if plan:
        kill_at([tuple(p.split(":")) for p in plan.split(",")], os.environ["ARINBOX_TEST_KILL_DONE"])  # type: ignore[misc]
    logs.configure(os.environ.get("ARINBOX_TEST_LOG_LEVEL", "WARNING"))
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with LightApp(Settings()) as app:
        run_worker(app, threads)


if __name__ == "__main__":
    main()
