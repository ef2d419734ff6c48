"""Domain errors. Views map them to pages or JSON errors; services raise them."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; ``code`` is a stable machine-readable name."""

    code = "error"

    def __init__(self, message: str = "", fields: dict[str, str] | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.fields = fields or {}


class InvalidInput(DomainError):
    """Some fields are not valid."""

    code = "invalid_input"


class NotFound(DomainError):
    """Not found."""

    code = "not_found"


class NotVisible(NotFound):
    """Not found."""

    # Another team's incident or team. Answered exactly like one that does not exist (the
    # same status, code and message), so that ids and slugs of other teams cannot be probed;
    # the audit log still records the refusal for what it is.
    audit_detail = "refused: another team's"


class Forbidden(DomainError):
    """You do not have access to this."""

    code = "forbidden"


class Conflict(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"


class TokenUnknown(NotFound):
    """This link is not valid."""

    code = "link_not_valid"


class TokenSpent(Conflict):
    """This link has already been used to answer."""

    code = "already_answered"


class SurveyNotOpen(Conflict):
    """The survey is not open."""

    code = "survey_not_open"

    def __init__(self, status: str) -> None:
        super().__init__(f"The survey is {status}.")
        self.status = status


class MinGroupLocked(Conflict):
    """The minimum group of a survey is locked once its invitations have gone out."""

    code = "min_group_locked"
