"""Errors arinbox raises on purpose.

    ArinboxError
    ├── ConfigError            a settings, policy or YAML file is wrong (names file, line, field)
    ├── ImportRowError         a ledger CSV row is wrong (names file, row, column)
    ├── MailParseError         a message cannot be parsed; it is stored and marked failed
    ├── RemittanceFormatError  a remittance file (CSV, XLSX, PDF, camt, X12, BAI2, NACHA) is malformed
    │   └── UnreadableDocument encrypted, over a size limit: noted on the email, never a crash
    ├── LedgerError            a ledger write was refused (over-application, wrong customer, ...)
    ├── ServiceUnavailable     an outside system (mail server, Graph, SMTP, an LLM) failed for now:
    │                          the work item waits and is retried, nothing is lost or done twice
    ├── NotFoundError          an id given on the command line does not exist
    └── PermissionDenied       the acting user's role may not do this (policy approvers, four eyes)

Raise with context and let the command line or web edge turn them into one-line messages.
"""

from __future__ import annotations


class ArinboxError(Exception):
    """Base of every error arinbox raises on purpose."""


class ConfigError(ArinboxError):
    pass


class ImportRowError(ArinboxError):
    def __init__(self, file: str, row: int, column: str, message: str) -> None:
        super().__init__(f"{file}: row {row}, column {column!r}: {message}")
        self.file, self.row, self.column = file, row, column


class MailParseError(ArinboxError):
    pass


class RemittanceFormatError(ArinboxError):
    """A file announced or detected as a remittance format that does not follow it."""


class UnreadableDocument(RemittanceFormatError):
    """A document that cannot be opened at all: encrypted, or beyond a configured limit."""


class LedgerError(ArinboxError):
    pass


class NotFoundError(ArinboxError):
    pass


class PermissionDenied(ArinboxError):
    pass


class ServiceUnavailable(ArinboxError):
    """Retrying later may succeed; raise it only where a retry is safe (idempotent by key)."""
