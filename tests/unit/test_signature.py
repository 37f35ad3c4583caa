from __future__ import annotations

import pytest

from arinbox.mail.signature import strip_signature


@pytest.mark.parametrize("sign_off", ["Best regards,", "Kind regards", "Thanks,", "Mit freundlichen Grüßen",
                                      "Cordialement,", "Saludos,", "Atentamente,", "-- "])
def test_signature_block_is_cut(sign_off: str) -> None:
    text = f"Subject\nHello,\nWe paid invoice 4512 today.\n{sign_off}\n<PERSON_1>\n12 Main St\nConfidential notice"
    assert strip_signature(text) == "Subject\nHello,\nWe paid invoice 4512 today."


def test_text_without_sign_off_and_thanks_in_a_sentence_are_kept() -> None:
    text = "Subject\nHi,\nThanks for the statement, we will pay on Friday.\nAnything else?"
    assert strip_signature(text) == text
