"""Exceptions raised by the harvester, named for what the caller does with them.

::

    HarvestError                  root of every harvester error
    ├── InputError                invalid input: exit 2, nothing on disk changes
    ├── ApiError                  an HTTP error response or transport failure from Genesys Cloud
    │   ├── RetriableError        transient: the retry policy tries again
    │   │   └── RateLimitedError  HTTP 429, with the server's Retry-After
    │   ├── SkippableError        one record cannot be read: write an error line, go on
    │   └── FatalApiError         the run cannot go on: exit 1, resumable from the checkpoint
    │       ├── CredentialsError  the OAuth client was rejected
    │       ├── PermissionDeniedError  HTTP 403: the role lacks a permission
    │       └── RetriesExhaustedError  a transient fault outlasted the retry bounds
    ├── OutputError               writing the output or the checkpoint failed: exit 1
    └── RunInterrupted            stopped on a signal with a checkpoint: exit 130
"""

from __future__ import annotations


class HarvestError(Exception):
    """Root of every error the harvester raises on purpose."""


class InputError(HarvestError):
    """Invalid command-line input, settings or checkpoint; the message names the value and the fix."""


class OutputError(HarvestError):
    """Writing output files or the checkpoint failed."""


class RunInterrupted(HarvestError):
    """The run stopped on a signal after writing a checkpoint."""


class ApiError(HarvestError):
    """A failed request, with what Genesys support needs to trace it.

    :param message: what failed, without secrets
    :param status: the HTTP status, or ``None`` for a transport failure
    :param code: the ``code`` of the Genesys error body, when there was one
    :param correlation_id: the error body's ``contextId`` or the ``ININ-Correlation-Id`` header
    :param endpoint: the short name of the endpoint, such as ``survey``
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        correlation_id: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.correlation_id = correlation_id
        self.endpoint = endpoint

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        if self.correlation_id:
            parts.append(f"correlation id {self.correlation_id}")
        return "; ".join(parts)


class RetriableError(ApiError):
    """A transient failure: a 5xx, a dropped connection, a timeout or a body that is not JSON."""


class RateLimitedError(RetriableError):
    """HTTP 429. ``retry_after`` is the server's Retry-After in seconds, or ``None`` when absent."""

    def __init__(self, message: str, *, retry_after: float | None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class SkippableError(ApiError):
    """One survey or evaluation cannot be read, for example a 404 after it was deleted."""


class FatalApiError(ApiError):
    """A failure that stops the run; the checkpoint lets the same command resume."""


class CredentialsError(FatalApiError):
    """The token endpoint rejected the client id and secret, or fresh tokens were rejected."""


class PermissionDeniedError(FatalApiError):
    """HTTP 403. ``permission`` names what the OAuth client's role lacks, when known."""

    def __init__(self, message: str, *, permission: str | None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.permission = permission


class RetriesExhaustedError(FatalApiError):
    """A transient fault lasted longer than the retry policy's attempts or total time."""
