"""Conversation ids: 128 random bits plus an HMAC tag, so only ids this gateway issued are accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Optional

TAG_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tag(secret: str, random_part: str) -> str:
    digest = hmac.new(secret.encode(), random_part.encode(), hashlib.sha256).digest()
    return _b64(digest[:TAG_BYTES])


def issue(secret: str) -> str:
    random_part = _b64(secrets.token_bytes(16))
    return f"{random_part}.{_tag(secret, random_part)}"


def verify(secret: str, conversation_id: Optional[str]) -> bool:
    if not isinstance(conversation_id, str) or conversation_id.count(".") != 1 or len(conversation_id) > 64:
        return False
    random_part, tag = conversation_id.split(".")
    # As bytes: compare_digest refuses str with non-ASCII characters, and a forged id may have them.
    return len(random_part) == 22 and hmac.compare_digest(tag.encode(), _tag(secret, random_part).encode())
