"""MIME parsing: broken real-world messages, HTML tables, charsets, quoted history, forwards."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import pytest

from arinbox.domain.errors import MailParseError
from arinbox.domain.models import ParsedEmail
from arinbox.mail import html_to_text, newest_message, parse_email

DATA = Path(__file__).resolve().parents[1] / "data" / "mail"
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "mime"
BROKEN = sorted(
    [
        *(FIXTURES / "malformed-flanker").glob("*.eml"),
        *(FIXTURES / "autoreply-rfc3834").glob("*.eml"),
    ]
)


def parse_file(name: str) -> ParsedEmail:
    return parse_email((DATA / name).read_bytes())


def test_shared_fixtures_are_present() -> None:
    assert len(BROKEN) == 17


@pytest.mark.parametrize("path", BROKEN, ids=lambda path: path.name)
def test_real_world_message_parses_or_fails_cleanly(path: Path) -> None:
    try:
        parsed = parse_email(path.read_bytes())
    except MailParseError as exc:
        assert "\n" not in str(exc)
        return
    assert parsed.message_id and "<" not in parsed.message_id
    assert parsed.content_types
    assert parsed.date is None or parsed.date.tzinfo is not None
    # Graph state stores the model as JSON: undecodable bytes must not survive as surrogates.
    assert ParsedEmail.model_validate_json(parsed.model_dump_json()) == parsed


def test_broken_structure_is_recorded_as_defects() -> None:
    parsed = parse_email((FIXTURES / "malformed-flanker" / "false-multipart.eml").read_bytes())
    assert "StartBoundaryNotFoundDefect" in parsed.defects
    missing_end = parse_email((FIXTURES / "malformed-flanker" / "missing-final-boundary.eml").read_bytes())
    assert "CloseBoundaryNotFoundDefect" in missing_end.defects
    assert missing_end.body == "Some body"
    assert missing_end.to == ["bob@example.com", "hithere@example.com"]


def test_raw_8bit_headers_are_decoded() -> None:
    parsed = parse_email((FIXTURES / "malformed-flanker" / "broken-headers.eml").read_bytes())
    assert parsed.subject == "Forget Asking For A Link Exchange\u2026"  # cp1252 ellipsis byte
    assert any(defect.startswith("header charset repaired") for defect in parsed.defects)


def test_damaged_base64_keeps_the_undamaged_lines() -> None:
    raw = (FIXTURES / "malformed-flanker" / "enclosed-broken-body.eml").read_bytes()
    parsed = parse_email(raw)
    enclosed = parsed.attachments[0]
    assert enclosed.content_type == "message/rfc822"
    assert enclosed.text is not None
    assert "Subject: Thanks!" in enclosed.text
    assert "you're kicking ass" in enclosed.text
    assert "search emails!" in enclosed.text
    assert "InvalidBase64LengthDefect" in parsed.defects


@pytest.mark.parametrize("name", ["rfc3834-01.eml", "rfc3834-05.eml", "rfc3834-06.eml"])
def test_auto_submitted_header_is_captured(name: str) -> None:
    parsed = parse_email((FIXTURES / "autoreply-rfc3834" / name).read_bytes())
    assert parsed.headers["auto-submitted"] == "auto-replied"


def test_exchange_auto_reply_headers_are_captured() -> None:
    parsed = parse_email((FIXTURES / "autoreply-rfc3834" / "rfc3834-02.eml").read_bytes())
    assert parsed.headers["x-auto-response-suppress"] == "All"
    assert parsed.headers["return-path"] == "<>"
    assert parsed.sender == "nekonyaan@example.org"
    assert parsed.sender_name == "Neko, Nyaan"


def test_headers_and_threading() -> None:
    parsed = parse_file("reply-en.eml")
    assert parsed.message_id == "reply-en@buyer-example.com"
    assert parsed.in_reply_to == "dunning-1@seller-example.com"
    assert parsed.references == ["dunning-0@seller-example.com", "dunning-1@seller-example.com"]
    assert parsed.sender == "jane@buyer-example.com"
    assert parsed.sender_name == "Jane Buyer"
    assert parsed.to == ["ar@seller-example.com"]
    assert parsed.date == dt.datetime(2025, 3, 5, 13, 30, tzinfo=dt.UTC)
    assert parsed.subject == "Re: Overdue invoice INV-20001"
    assert set(parsed.headers) == {"content-type"}


def test_html_only_table_rows_stay_on_one_line() -> None:
    parsed = parse_file("html-table-remittance.eml")
    lines = parsed.body.splitlines()
    assert any("INV-10041" in line and "1,250.00 EUR" in line for line in lines)
    assert any("INV-10057" in line and "300.50" in line for line in lines)
    assert "\n\n\n" not in parsed.body
    assert "<td>" not in parsed.body
    assert parsed.content_types == ["text/html"]


def test_multipart_alternative_prefers_plain_text() -> None:
    parsed = parse_file("alternative.eml")
    assert parsed.body == "Please send us a statement of account (plain part)."
    assert parsed.content_types == ["multipart/alternative", "text/plain", "text/html"]
    assert parsed.attachments == []


@pytest.mark.parametrize(
    ("name", "newest", "history"),
    [
        ("reply-en.eml", "We will pay INV-20001 on Friday.", "30 days overdue"),
        (
            "reply-de.eml",
            "Die Rechnung RE-2025-117 ist bezahlt, Überweisung vom 4. März.",
            "fällig",
        ),
        ("reply-fr.eml", "Le virement pour la facture F-778 a été effectué ce matin.", "régler"),
        ("reply-es.eml", "Pagaremos la factura FAC-55 el lunes.", "vencida"),
        (
            "reply-outlook.eml",
            "We were charged 12 units but only received 10 on INV-30300.",
            "copy",
        ),
    ],
)
def test_quoted_history_is_cut(name: str, newest: str, history: str) -> None:
    parsed = parse_file(name)
    assert parsed.newest == newest
    assert history in parsed.body


def test_forward_keeps_forwarded_text_and_headers() -> None:
    parsed = parse_file("forward-gmail.eml")
    assert parsed.newest.startswith("FYI, see the remittance below.")
    assert "From: Treasury <treasury@buyer-example.com>" in parsed.newest
    assert "Payment of 4,500.00 USD sent for INV-40001 and INV-40002." in parsed.newest


def test_outlook_forward_is_recognised_from_the_subject() -> None:
    parsed = parse_file("forward-outlook.eml")
    assert "INV-40100 paid in full, 2,000.00 USD." in parsed.newest
    same_body_as_reply = newest_message(parsed.body, subject="RE: Remittance INV-40100")
    assert same_body_as_reply == "Please see below."


@pytest.mark.parametrize(
    "marker",
    [
        "Begin forwarded message:",
        "-------- Message transféré --------",
        "---------- Weitergeleitete Nachricht ----------",
        "---------- Mensaje reenviado ---------",
    ],
)
def test_forward_markers_in_each_language_keep_content(marker: str) -> None:
    text = f"See below.\n\n{marker}\nFrom: C <c@x.example>\nSubject: Paid\n\nINV-7 paid, 10.00 EUR.\n"
    assert newest_message(text).endswith("INV-7 paid, 10.00 EUR.")


def test_forward_under_a_long_message_is_history() -> None:
    own_text = "We dispute the freight charge on INV-8. " * 20
    text = f"{own_text}\n\n---------- Forwarded message ---------\nFrom: C <c@x.example>\n\nOld."
    assert newest_message(text) == own_text.strip()


def test_quoted_history_inside_a_forward_is_cut() -> None:
    text = (
        "FYI\n\n---------- Forwarded message ---------\nFrom: C <c@x.example>\nSubject: Paid\n\n"
        "We paid INV-1.\n\nOn Sun, 2 Mar 2025, AR <ar@s.example> wrote:\n> Please pay INV-1\n"
    )
    newest = newest_message(text)
    assert newest.endswith("We paid INV-1.")
    assert "Please pay" not in newest


def test_interleaved_and_bottom_posted_replies_keep_the_answers() -> None:
    assert newest_message("> Pay INV-1?\nYes, paid today.\n> And INV-2?\nNext week.") == (
        "Yes, paid today.\nNext week."
    )
    bottom = "On Mon, 3 Mar 2025, Jane <j@x.example> wrote:\n> please pay INV-7\n\nPaid yesterday."
    assert newest_message(bottom) == "Paid yesterday."


def test_latin1_body_declared_utf8_is_repaired() -> None:
    parsed = parse_file("latin1-declared-utf8.eml")
    assert parsed.body == "Grüße, die Rechnung RE-77 über 50 € ist bezahlt."
    assert "charset repaired: declared utf-8, read as cp1252" in parsed.defects


@pytest.mark.parametrize(
    ("charset", "body", "text", "defect"),
    [
        ("utf-8", "Gr\u00fc\u00dfe aus K\u00f6ln, RE-9 \u00fcber 20 \u20ac".encode() + b"\xff", "Köln", "bad bytes"),
        ("x-unknown", "Gr\u00fc\u00dfe".encode("latin-1"), "Grüße", "unknown charset 'x-unknown'"),
        (None, "Gr\u00fc\u00dfe".encode(), "Grüße", "charset repaired: declared none, read as utf-8"),
    ],
)
def test_charset_guesses_are_recorded(charset: str | None, body: bytes, text: str, defect: str) -> None:
    content_type = f'text/plain; charset="{charset}"' if charset else "text/plain"
    raw = f"From: a@b.example\nContent-Type: {content_type}\n\n".encode() + body
    parsed = parse_email(raw)
    assert text in parsed.body
    assert any(defect in note for note in parsed.defects)


def test_csv_attachment_text_is_captured() -> None:
    parsed = parse_file("csv-attachment.eml")
    assert parsed.body == "Payment details in the attached file."
    (attachment,) = parsed.attachments
    assert attachment.filename == "remittance.csv"
    assert attachment.content_type == "text/csv"
    assert attachment.size == 49
    assert attachment.text == "invoice,amount\nINV-50001,100.00\nINV-50002,250.50"


def test_missing_message_id_is_synthesised_stably() -> None:
    raw = (DATA / "no-message-id.eml").read_bytes()
    first, second = parse_email(raw), parse_email(raw)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@arinbox.invalid")
    assert len(first.message_id.split("@")[0]) == 32
    assert parse_email(raw + b"\nP.S.").message_id != first.message_id
    assert "Message-ID missing: synthesised" in first.defects


def test_delivery_report_is_recorded() -> None:
    parsed = parse_file("dsn-report.eml")
    assert parsed.content_types[0] == "multipart/report"
    assert "message/delivery-status" in parsed.content_types
    assert parsed.headers["content-type"].startswith("multipart/report")
    assert parsed.headers["auto-submitted"] == "auto-replied"
    assert "could not be delivered" in parsed.body
    status, headers = parsed.attachments
    assert status.content_type == "message/delivery-status"
    assert status.text is not None and "Status: 5.1.1" in status.text
    assert headers.content_type == "text/rfc822-headers"
    assert headers.text is not None and "Subject: Statement of account" in headers.text


def test_tnef_attachment_is_recorded() -> None:
    tnef = (FIXTURES / "tnef-mimekit" / "winmail.tnef").read_bytes()
    message = EmailMessage()
    message["From"] = "ap@buyer-example.com"
    message["To"] = "ar@seller-example.com"
    message["Subject"] = "Invoice query"
    message.set_content("See attached.")
    message.add_attachment(tnef, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    parsed = parse_email(message.as_bytes())
    wrapper, *inner = parsed.attachments
    assert (wrapper.filename, wrapper.content_type) == ("winmail.dat", "application/ms-tnef")
    assert wrapper.size == len(tnef)
    assert wrapper.text is None and wrapper.note is None
    # the files Outlook wrapped follow the winmail.dat itself
    assert [(a.filename, a.size) for a in inner] == [("Untitled Attachment", 29034), ("Untitled Attachment", 68261)]
    assert parsed.body == "See attached."  # the message has its own body: the wrapped one is not used


def test_blank_lines_before_the_headers_are_tolerated() -> None:
    parsed = parse_email(b"\r\n  \r\nFrom: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n")
    assert (parsed.sender, parsed.subject, parsed.body) == ("a@b.example", "hi", "body")
    assert "leading blank lines removed" in parsed.defects


def test_junk_line_before_the_headers_is_skipped() -> None:
    parsed = parse_email(b"%%% exported by tool %%%\nFrom: a@b.example\nSubject: hi\n\nbody\n")
    assert (parsed.sender, parsed.subject, parsed.body) == ("a@b.example", "hi", "body")
    assert any(defect.startswith("junk before headers skipped") for defect in parsed.defects)


@pytest.mark.parametrize("path", BROKEN, ids=lambda path: path.name)
def test_truncated_and_corrupted_messages_never_crash(path: Path) -> None:
    raw = path.read_bytes()
    corrupted = bytes(0xFF if i % 37 == 0 else byte for i, byte in enumerate(raw))
    for variant in [raw[: len(raw) * cut // 8] for cut in range(1, 8)] + [corrupted]:
        try:
            parse_email(variant).model_dump_json()
        except MailParseError as exc:
            assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(b"", "empty message"), (b" \r\n\r\n", "empty message"), (b"just some text\n", "no headers")],
)
def test_nothing_usable_raises_mail_parse_error(raw: bytes, reason: str) -> None:
    with pytest.raises(MailParseError, match=reason):
        parse_email(raw)


def test_html_to_text_renders_rows_and_collapses_blank_lines() -> None:
    html = "<p>Hi</p><br><br><br><br><table><tr><td>INV-1</td><td>10.00</td></tr></table>"
    text = html_to_text(html)
    assert "\n\n\n" not in text
    assert text.splitlines()[-1].split() == ["INV-1", "10.00"]
    assert html_to_text("") == ""
    assert html_to_text("<?xml version='1.0' encoding='utf-8'?><p>ok</p>") == "ok"
