"""Errors arinbox raises on purpose.

    ArinboxError
    ├── ConfigError            a settings, policy or YAML file is wrong (names file, line, field)
    ├── ImportRowError         a ledger CSV row is wrong (names file, row, column)
    ├── MailParseError         a message cannot be parsed; it is stored and marked failed
    ├── LedgerError            a ledger write was refused (over-application, wrong customer, ...)
    └── NotFoundError          an id given on the command line does not exist

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


class LedgerError(ArinboxError):
    pass


class NotFoundError(ArinboxError):
    pass
