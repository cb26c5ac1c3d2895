"""The OAI-PMH error conditions (OAI-PMH 2.0 §3.6), named as the protocol names them."""

from __future__ import annotations


class OAIError(Exception):
    """An OAI-PMH error condition; ``code`` is the protocol's error code."""

    code = "badArgument"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadArgument(OAIError):
    code = "badArgument"


class BadResumptionToken(OAIError):
    code = "badResumptionToken"


class BadVerb(OAIError):
    code = "badVerb"


class CannotDisseminateFormat(OAIError):
    code = "cannotDisseminateFormat"


class IdDoesNotExist(OAIError):
    code = "idDoesNotExist"


class NoRecordsMatch(OAIError):
    code = "noRecordsMatch"


class NoMetadataFormats(OAIError):
    code = "noMetadataFormats"


class NoSetHierarchy(OAIError):
    code = "noSetHierarchy"


class OAIErrors(Exception):
    """Several error conditions at once (the spec allows more than one)."""

    def __init__(self, errors: list[OAIError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors

    @property
    def echo_request(self) -> bool:
        # §3.2: after badVerb or badArgument the request element carries no attributes.
        return not any(e.code in ("badVerb", "badArgument") for e in self.errors)
