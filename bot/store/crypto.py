"""Callback contact details (first name, phone or email, best time) encrypted at rest with Fernet.

The key comes from CONTACT_KEY. In development, with none set, one is generated once into
var/contact.key (mode 0600) so the bot runs out of the box; anywhere else a missing key stops
start-up, because without it contact details could be neither stored nor read back.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Optional

from cryptography.fernet import Fernet, InvalidToken

from bot.settings import REPO_ROOT, Settings, SettingsError, get_settings

DEV_KEY_FILE = REPO_ROOT / "var" / "contact.key"
GENERATE_KEY_COMMAND = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"

log = logging.getLogger(__name__)


class ContactKeyError(SettingsError):
    """No usable contact key, or data encrypted under another key."""


class ContactCipher:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ContactKeyError("this contact detail was encrypted with a different CONTACT_KEY") from None


def contact_cipher(settings: Optional[Settings] = None, dev_key_file: Path = DEV_KEY_FILE) -> ContactCipher:
    """The cipher for contact fields; call it at start-up so a missing key fails early."""
    settings = settings or get_settings()
    if settings.contact_key:
        return ContactCipher(settings.contact_key.encode("ascii"))
    if settings.environment != "development":
        raise ContactKeyError(
            f"CONTACT_KEY is not set: contact details are encrypted at rest, so ENVIRONMENT={settings.environment} "
            f"cannot start without a key; generate one with {GENERATE_KEY_COMMAND}"
        )
    return ContactCipher(_development_key(dev_key_file))


def _development_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written to a private temporary file, then linked into place: the key is never readable by
        # others, and if two processes start at once both end up with the one that was linked first.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".contact-key-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key())
            os.link(temporary, path)
            log.warning("CONTACT_KEY is not set: generated a development key in %s (mode 0600); "
                        "set CONTACT_KEY outside development", path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    else:
        log.info("CONTACT_KEY is not set: using the development key in %s", path)
    key = path.read_bytes().strip()
    try:
        Fernet(key)
    except ValueError:
        raise ContactKeyError(f"{path} does not hold a Fernet key: delete it or set CONTACT_KEY") from None
    return key
