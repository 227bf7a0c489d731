"""Deterministic UUID strings that encode where an object lives in the synthetic org.

An id carries a keyed checksum and its payload: the kind, the UTC day (days since 1970-01-01),
the conversation index within the day and a sub-index, masked with a key derived from the
seed and the checksum. The simulator can thus find the day of any survey or evaluation id
without an index, and rejects ids it never issued. The strings have the version and variant digits of a UUID version 4.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

_DAY_BITS = 24
_INDEX_BITS = 24
_SUB_BITS = 12


class IdKind(IntEnum):
    """Object kind stored in the top bits of an id payload."""

    CONVERSATION = 1
    SURVEY = 2
    EVALUATION = 3
    PARTICIPANT = 4
    SESSION = 5


@dataclass(frozen=True, slots=True)
class IdParts:
    """Decoded content of an id."""

    kind: IdKind
    day: int
    index: int
    sub: int


class IdCodec:
    """Encode and decode ids for one seed."""

    __slots__ = ("_key",)

    def __init__(self, seed: int) -> None:
        self._key = hashlib.sha256(f"harvester-sim:{seed}".encode()).digest()

    def _mask(self, check: int) -> int:
        # The mask depends on the checksum so that neighbouring ids share no visible digits.
        digest = hashlib.blake2b(check.to_bytes(7, "big"), key=self._key, digest_size=8)
        return int.from_bytes(digest.digest(), "big")

    def _check(self, payload: int) -> int:
        digest = hashlib.blake2b(payload.to_bytes(8, "big"), key=self._key[:32], digest_size=7)
        return int.from_bytes(digest.digest(), "big") >> 8  # 48 bits

    def encode(self, kind: IdKind, day: int, index: int, sub: int = 0) -> str:
        """Return the id of the object ``kind`` at (day, index, sub)."""
        payload = (
            (int(kind) << (_DAY_BITS + _INDEX_BITS + _SUB_BITS))
            | (day << (_INDEX_BITS + _SUB_BITS))
            | (index << _SUB_BITS)
            | sub
        )
        check = self._check(payload)
        masked = payload ^ self._mask(check >> 8)
        digits = f"{check >> 8:010x}{masked:016x}{check & 0xFFFF:04x}"
        text = digits[:12] + "4" + digits[12:15] + "8" + digits[15:]
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def decode(self, value: str) -> IdParts | None:
        """Return the parts of an id issued by this codec, or ``None`` for any other string."""
        text = value.lower()
        if len(text) != 36:
            return None
        digits = text.replace("-", "")
        digits = digits[:12] + digits[13:16] + digits[17:]
        try:
            payload = int(digits[10:26], 16) ^ self._mask(int(digits[:10], 16))
        except ValueError:
            return None
        kind_value = payload >> (_DAY_BITS + _INDEX_BITS + _SUB_BITS)
        if kind_value not in IdKind._value2member_map_:
            return None
        parts = IdParts(
            kind=IdKind(kind_value),
            day=(payload >> (_INDEX_BITS + _SUB_BITS)) & ((1 << _DAY_BITS) - 1),
            index=(payload >> _SUB_BITS) & ((1 << _INDEX_BITS) - 1),
            sub=payload & ((1 << _SUB_BITS) - 1),
        )
        if self.encode(parts.kind, parts.day, parts.index, parts.sub) != text:
            return None
        return parts
