"""Zip attachments expanded one level, within limits on count, total size and compression ratio."""

from __future__ import annotations

import io
import zipfile
import zlib

from arinbox.domain.errors import RemittanceFormatError, UnreadableDocument
from arinbox.remittance.limits import Limits


def is_zip(data: bytes, filename: str, content_type: str) -> bool:
    zipped = content_type in ("application/zip", "application/x-zip-compressed") or filename.lower().endswith(".zip")
    return zipped and data.startswith(b"PK")


def unpack_zip(data: bytes, limits: Limits) -> list[tuple[str, bytes]]:
    """The files of a zip (folders and nested paths flattened to their names)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [info for info in zf.infolist() if not info.is_dir()]
            if len(members) > limits.max_archive_members:
                raise UnreadableDocument(
                    f"zip holds {len(members)} files, more than {limits.max_archive_members}: not expanded")
            total = sum(info.file_size for info in members)
            if total > limits.max_archive_bytes:
                raise UnreadableDocument(
                    f"zip expands to {total} bytes, more than {limits.max_archive_bytes}: not expanded")
            files = []
            for info in members:
                if info.flag_bits & 0x1:
                    raise UnreadableDocument(f"zip member {info.filename!r} is encrypted: not expanded")
                if info.file_size > limits.max_archive_ratio * max(info.compress_size, 1):
                    raise UnreadableDocument(f"zip member {info.filename!r} is compressed beyond "
                                             f"{limits.max_archive_ratio}:1 (a zip bomb?): not expanded")
                with zf.open(info) as member:
                    # the header's size may lie: never read more than it announced
                    content = member.read(info.file_size + 1)
                if len(content) > info.file_size:
                    raise UnreadableDocument(f"zip member {info.filename!r} is larger than announced: not expanded")
                files.append((info.filename.rsplit("/", 1)[-1], content))
            return files
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            ValueError, IndexError, OSError, zlib.error) as exc:  # damaged headers: negative seeks, short names
        raise RemittanceFormatError(f"zip unreadable: {type(exc).__name__}: {exc}") from exc
