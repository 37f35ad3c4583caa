"""Documents sent with replies: invoice copies (PDF) and statements of account (PDF and CSV).

Rendered from ledger facts only, at send time, in the customer's language; the creation date is
the email's, so the same email always yields the same bytes.
"""
