"""Stateless, signed resumption tokens (OAI-PMH 2.0 §3.5).

A token carries the request's arguments, the last key seen, the cursor and the
list size, signed with HMAC-SHA256: any worker of a multi-process deployment can
continue any token, and a forged, damaged, expired or foreign token is a
``badResumptionToken`` — never a crash.

    >>> codec = TokenCodec(b"secret")
    >>> t = codec.encode(ResumptionState("ListRecords", "oai_dc", None, None, None, (1, 2), 100, 500, 10**10))
    >>> codec.decode(t, now=0).cursor
    100
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from .errors import BadResumptionToken

_VERSION = 1


@dataclass(frozen=True, slots=True)
class ResumptionState:
    """What a token carries: the list's arguments, the last key, cursor, size, expiry."""

    verb: str
    prefix: str | None
    from_: int | None
    until: int | None
    set: str | None
    after: tuple[int, int] | tuple[str, int] | None
    cursor: int
    size: int
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenCodec:
    """Encodes and checks tokens with one secret (shared by every worker).

    The body is readable JSON (base64url) and the signature is a truncated
    HMAC-SHA256 (144 bits): forging one means breaking HMAC, not guessing.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, body: bytes) -> str:
        return _b64(hmac.new(self._secret, body, hashlib.sha256).digest()[:18])

    def encode(self, state: ResumptionState) -> str:
        body = json.dumps(
            [_VERSION, state.verb, state.prefix, state.from_, state.until, state.set,
             list(state.after) if state.after is not None else None,
             state.cursor, state.size, state.expires],
            separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return _b64(body) + "." + self._sign(body)

    def decode(self, token: str, *, now: int, verb: str | None = None) -> ResumptionState:
        body_text, dot, sig = token.partition(".")
        if not dot or not body_text or not sig:
            raise BadResumptionToken(f"the resumption token '{token[:60]}' is not one this repository issued")
        try:
            body = _unb64(body_text)
        except (ValueError, TypeError):
            raise BadResumptionToken("the resumption token is damaged (not base64)") from None
        # compare bytes: compare_digest refuses non-ASCII str, and a garbled
        # token may hold anything.
        if not hmac.compare_digest(self._sign(body).encode(), sig.encode("utf-8", "replace")):
            raise BadResumptionToken(
                "the resumption token was not issued by this repository, or it was altered")
        try:
            v, tverb, prefix, from_, until, set_, after, cursor, size, expires = json.loads(body)
            if v != _VERSION:
                raise BadResumptionToken(
                    "the resumption token is from an older version of this repository")
            if not (isinstance(cursor, int) and isinstance(size, int) and isinstance(expires, int)):
                raise TypeError("cursor, size and expires are integers")
            # Signed by us, so well formed unless another version wrote it: checked
            # all the same, so that no shape of token reaches the engine as a crash.
            if not (isinstance(tverb, str) and all(x is None or isinstance(x, str) for x in (prefix, set_))
                    and all(x is None or type(x) is int for x in (from_, until))
                    and (after is None or (isinstance(after, list) and len(after) == 2
                                           and isinstance(after[0], int | str)
                                           and type(after[1]) is int))):
                raise TypeError("the token's fields have the wrong types")
        except (ValueError, TypeError):
            raise BadResumptionToken("the resumption token is damaged") from None
        if verb is not None and tverb != verb:
            raise BadResumptionToken(f"the resumption token belongs to {tverb}, not to {verb}")
        if expires < now:
            raise BadResumptionToken(
                "the resumption token has expired; start the list again (with from= the last "
                "datestamp you stored, to avoid harvesting everything twice)")
        return ResumptionState(tverb, prefix, from_, until, set_,
                               tuple(after) if after is not None else None,  # type: ignore[arg-type]
                               cursor, size, expires)
