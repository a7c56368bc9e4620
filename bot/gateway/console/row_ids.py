"""Row ids in console URLs and query strings.

The databases hold 64-bit integers; a longer number from a URL would overflow the query (HTTP 500).
Bounded at 18 digits, such a number is a 404 (in a path) or a 400 (in a query string).
"""

from __future__ import annotations

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor

MAX_ID_DIGITS = 18


class RowIdConvertor(Convertor):
    regex = f"[0-9]{{1,{MAX_ID_DIGITS}}}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def register() -> None:
    """Make `{name:row_id}` usable in route paths (Starlette keeps convertors in one global table)."""
    if "row_id" not in CONVERTOR_TYPES:
        register_url_convertor("row_id", RowIdConvertor())
