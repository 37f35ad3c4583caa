"""The encrypted store of placeholder mappings: originals are readable only with the key."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from arinbox.domain.errors import ConfigError


class Vault:
    """Seals a placeholder -> original mapping with Fernet (AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigError("masking vault key is not a valid Fernet key") from exc

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    def seal(self, mapping: dict[str, str]) -> bytes:
        payload = json.dumps(mapping, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return self._fernet.encrypt(payload)

    def open(self, token: bytes) -> dict[str, str]:
        try:
            payload = self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise ConfigError("masking vault cannot open this mapping: wrong key or altered data") from exc
        data = json.loads(payload.decode("utf-8"))
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise ConfigError("masking vault holds something other than a mapping of strings")
        return {str(k): str(v) for k, v in data.items()}
