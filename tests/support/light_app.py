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
import threading
import time
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
                                  calibration_folds=1, cache_dir=self.settings.model_cache_path)


def kill_at(plan: list[tuple[str, str]], done_file: str) -> None:
    """Make this process SIGKILL itself at the first (node, 'before'|'after'|'saved') of ``plan`` not
    yet in ``done_file``, so a test can kill a worker at an exact graph node; each point fires once.
    'saved': the node's writes are stored and the step's checkpoint is not yet written."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.sqlite import SqliteSaver

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

    if when == "saved":
        holding = threading.Event()  # the node's writes are on their way: no checkpoint may follow
        for saver in (PostgresSaver, SqliteSaver):
            put, put_writes = saver.put, saver.put_writes

            @functools.wraps(put_writes)
            def saving(self: Any, config: Any, writes: Any, task_id: str, task_path: str = "",
                       _put_writes: Any = put_writes) -> None:
                mine = task_path.split(",")[-1].strip(" ()'\"") == node_name
                if mine:
                    holding.set()
                _put_writes(self, config, writes, task_id, task_path)
                if mine:
                    die()

            @functools.wraps(put)
            def checkpointing(self: Any, *args: Any, _put: Any = put) -> Any:
                while holding.is_set():  # killed here, before the checkpoint is written
                    time.sleep(0.05)
                return _put(self, *args)

            saver.put_writes, saver.put = saving, checkpointing  # type: ignore[method-assign]
        return

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
