"""Staff passwords: argon2id hashes, never the password itself."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 12

# argon2id at the OWASP Password Storage Cheat Sheet's recommended minimum (19 MiB, 2 passes, one
# lane), not argon2-cffi's default (64 MiB, 3 passes): ~25 ms of one core per sign-in instead of
# ~190 ms, so staff signing in on a 2-core host do not slow the visitors' chat (`make bench-staff`).
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"the password must be at least {MIN_PASSWORD_CHARS} characters long")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True for a hash made with other settings (e.g. argon2-cffi's defaults); rehash it on sign-in."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
