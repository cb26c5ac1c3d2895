"""Words a person reads, in one place: the messages of the command line in
English and Vietnamese, and counts with their nouns.

Every message has a stable id in :data:`~thuvien_interop.wording.messages.MESSAGES`
(a report problem's ``code``, such as ``collision``, where it has one) and a text
in each of :data:`LANGUAGES`; :func:`say` gives it in the language spoken now
(English unless the caller chose another: the command line chooses from
``--lang``, ``THUVIEN_LANG`` or the locale, see :func:`language_from_environment`)::

    >>> from thuvien_interop.wording import plural, say, speaking
    >>> plural(1, "error"), plural(2, "error"), plural(1000, "record")
    ('1 error', '2 errors', '1,000 records')
    >>> with speaking("vi"):
    ...     plural(1, "record"), plural(3, "record"), plural(1000, "record")
    ('1 bản ghi', '3 bản ghi', '1.000 bản ghi')
    >>> with speaking("vi"):
    ...     say("convert.summary", written=2, records=plural(3, "record"), to="mods", skipped="")
    'Đã chuyển 2 trên 3 bản ghi sang mods.'

Numbers written ``{n:,}`` or ``{s:.1f}`` in a text take the language's separators
(``1,234.5`` in English, ``1.234,5`` in Vietnamese); ``{port}`` is written as it is.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from .messages import MESSAGES, NOUNS

T = TypeVar("T")

__all__ = ["LANGUAGES", "Note", "Said", "in_this_language", "language", "language_from_environment", "number",
           "plural", "say", "set_language", "speaking"]

#: The languages every message has a text in; the first is the default.
LANGUAGES = ("en", "vi")

# A context variable, not a global: the threads of the web server start with the
# default (its pages are in English) whatever the command that started it speaks.
_spoken: ContextVar[str] = ContextVar("thuvien_language", default="en")


def language() -> str:
    """The language spoken now (``en`` or ``vi``)."""
    return _spoken.get()


def set_language(lang: str) -> None:
    """Speak ``lang`` (one of :data:`LANGUAGES`) from now on, in this thread."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose {' or '.join(LANGUAGES)}")
    _spoken.set(lang)


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Speak ``lang`` inside the ``with`` block, then what was spoken before."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose {' or '.join(LANGUAGES)}")
    token = _spoken.set(lang)
    try:
        yield
    finally:
        _spoken.reset(token)


def in_this_language(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``, speaking the language spoken here in whatever thread runs it: a new
    thread (a harvest's worker, its writer) starts speaking the default.

        >>> import threading
        >>> heard = []
        >>> with speaking("vi"):
        ...     t = threading.Thread(target=in_this_language(lambda: heard.append(language())))
        >>> t.start(); t.join(); heard
        ['vi']
    """
    lang = _spoken.get()

    def run(*args: Any, **kwargs: Any) -> T:
        with speaking(lang):
            return fn(*args, **kwargs)

    return run


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language a command speaks when ``--lang`` is not given: ``THUVIEN_LANG``
    (``vi`` or ``en``), else the locale's (the first of ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG`` that is set, as POSIX orders them): Vietnamese when it starts with
    ``vi`` (``vi_VN.UTF-8``), else English.

        >>> language_from_environment({"LANG": "vi_VN.UTF-8"})
        'vi'
        >>> language_from_environment({"THUVIEN_LANG": "en", "LANG": "vi_VN.UTF-8"})
        'en'
    """
    env = os.environ if environ is None else environ
    chosen = env.get("THUVIEN_LANG", "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


class _Formatter(string.Formatter):
    """``str.format`` whose ``{n:,}`` and ``{s:.1f}`` numbers take Vietnamese separators
    (1.234,5)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        text = format(value, format_spec)
        if ("," in format_spec or "." in format_spec) and isinstance(value, int | float):
            text = text.translate(_VI_SEPARATORS)
        return text


_VI_SEPARATORS = str.maketrans({",": ".", ".": ","})
_VI_FORMAT = _Formatter()


def say(key: str, /, **fields: Any) -> str:
    """The message ``key`` in the language spoken now, its ``{fields}`` filled in."""
    texts = MESSAGES[key]
    lang = _spoken.get()
    if lang == "en":
        return texts["en"].format(**fields)
    return _VI_FORMAT.format(texts[lang], **fields)


class Said:
    """A message said when it is read (``str()``), in the language spoken there: a
    log line of a worker thread is said in the language its handler speaks.

        >>> line = Said("harvest.log.identify", name="daklak", repository="Thư viện",
        ...             granularity="YYYY-MM-DD")
        >>> str(line)
        'daklak: Thư viện, granularity YYYY-MM-DD'
    """

    __slots__ = ("key", "fields")

    def __init__(self, key: str, /, **fields: Any) -> None:
        MESSAGES[key]  # an unknown id fails where it is written, not where it is read
        self.key = key
        self.fields = fields

    def __str__(self) -> str:
        return say(self.key, **self.fields)

    def __repr__(self) -> str:
        return f"Said({self.key!r})"


class Note(str):
    """A message said now, in the language spoken, that keeps its id and fields: a
    reader's note is a string wherever it goes (joined, stored, printed) and is still
    told apart by :attr:`key` whatever the language it was said in.

        >>> with speaking("vi"):
        ...     note = Note("read.no-indicators", tag="245")
        >>> note, note.key, note.fields["tag"]
        ('trường 245 không có chỉ thị; giữ lại với chỉ thị trống', 'read.no-indicators', '245')
        >>> import pickle; pickle.loads(pickle.dumps(note)).key  # across worker processes
        'read.no-indicators'
    """

    key: str
    fields: dict[str, Any]

    def __new__(cls, key: str, /, **fields: Any) -> Note:
        note = super().__new__(cls, say(key, **fields))
        note.key, note.fields = key, fields
        return note

    def __reduce__(self) -> tuple[Any, ...]:
        return _said_note, (type(self), str(self), self.key, self.fields)


def _said_note(cls: type[Note], text: str, key: str, fields: dict[str, Any]) -> Note:
    note = str.__new__(cls, text)
    note.key, note.fields = key, fields
    return note


def plural(count: int, word: str) -> str:
    """``1 record``, ``2 records``: a count (with thousands separators) and its noun,
    in the language spoken now (Vietnamese nouns have one form: ``3 bản ghi``).
    ``word`` is the English noun, a key of :data:`~thuvien_interop.wording.messages.NOUNS`."""
    lang = _spoken.get()
    if lang == "en":
        return f"{count:,} {word}{'' if count == 1 else 's'}"
    return f"{count:,}".translate(_VI_SEPARATORS) + " " + NOUNS[word][lang]


def number(value: float, spec: str = ",") -> str:
    """A number for a table cell, formatted by ``spec`` with the language's separators
    (``number(4000)`` is ``4,000`` in English, ``4.000`` in Vietnamese)."""
    text = format(value, spec)
    return text if _spoken.get() == "en" else text.translate(_VI_SEPARATORS)
