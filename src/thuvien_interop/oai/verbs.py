"""The six verbs and their arguments, declared once (OAI-PMH 2.0 §4).

Argument checking happens in one place, :func:`check_arguments`, from this table:
``badVerb`` and ``badArgument`` come from here, not from scattered ``if``s.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..crosswalk.text import has_forbidden_xml_chars
from .errors import BadArgument, BadVerb, OAIError


@dataclass(frozen=True, slots=True)
class Verb:
    name: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    exclusive: str | None = None
    """An argument that must come alone (with ``verb``): the resumptionToken."""


_LIST = ("from", "until", "set")

VERBS: dict[str, Verb] = {
    v.name: v
    for v in (
        Verb("Identify"),
        Verb("ListMetadataFormats", optional=("identifier",)),
        Verb("ListSets", exclusive="resumptionToken"),
        Verb("GetRecord", required=("identifier", "metadataPrefix")),
        Verb("ListIdentifiers", required=("metadataPrefix",), optional=_LIST,
             exclusive="resumptionToken"),
        Verb("ListRecords", required=("metadataPrefix",), optional=_LIST,
             exclusive="resumptionToken"),
    )
}


def check_arguments(params: list[tuple[str, str]]) -> tuple[Verb, dict[str, str], list[OAIError]]:
    """Return the verb, its arguments, and every argument error found.

    ``params`` are the request's (name, value) pairs in order, so that a
    repeated argument can be told apart (§3.1.2.1: it is badArgument).
    """
    errors: list[OAIError] = []
    verbs = [v for k, v in params if k == "verb"]
    if not verbs:
        raise BadVerb("the request has no verb; use one of " + ", ".join(VERBS))
    if len(verbs) > 1:
        raise BadVerb("the verb argument is repeated")
    if verbs[0] not in VERBS:
        raise BadVerb(f"'{verbs[0]}' is not an OAI-PMH verb; use one of " + ", ".join(VERBS))
    verb = VERBS[verbs[0]]
    args: dict[str, str] = {}
    unreadable: set[str] = set()
    allowed = set(verb.required) | set(verb.optional) | ({verb.exclusive} if verb.exclusive else set())
    for key, value in params:
        if key == "verb":
            continue
        if key not in allowed:
            errors.append(BadArgument(f"'{key}' is not an argument of {verb.name}"))
        elif key in args or key in unreadable:
            errors.append(BadArgument(f"the argument '{key}' is repeated"))
        elif key != "resumptionToken" and has_forbidden_xml_chars(value):
            # No argument of any verb can hold one (identifiers are URIs), and none
            # could be echoed (§3.2); a damaged token is the token decoder's
            # badResumptionToken. The web layer decodes bytes that are not UTF-8 as
            # lone surrogates, so they come here too.
            errors.append(BadArgument(
                f"the argument '{key}' holds a control character or bytes that are not "
                "UTF-8 (§3.1.1.1: arguments are UTF-8, URL-encoded)"))
            unreadable.add(key)
        else:
            args[key] = value
    if verb.exclusive and (verb.exclusive in args or verb.exclusive in unreadable):
        others = [k for k in args if k != verb.exclusive]
        if others:
            errors.append(BadArgument(
                f"{verb.exclusive} is an exclusive argument: it cannot come with "
                + ", ".join(sorted(others))))
        return verb, args, errors
    for key in verb.required:
        if key not in args and key not in unreadable:
            errors.append(BadArgument(f"{verb.name} requires the argument '{key}'"))
    return verb, args, errors
