"""Errors that stop the gate before it can judge, each mapped to one exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of `conformance run`; each means one thing."""

    CONFORMS = 0
    NON_CONFORMANT = 1
    BAD_INPUT = 2
    CANNOT_JUDGE = 3
    INTERRUPTED = 130


class GateError(Exception):
    """The gate could not judge; the message is one line naming the cause and the fix."""

    exit_code = ExitCode.CANNOT_JUDGE

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}; {fix}")
        self.cause = cause
        self.fix = fix


class BadInputError(GateError):
    """A flag, spec or file given to the gate is unusable."""

    exit_code = ExitCode.BAD_INPUT


class SpecError(BadInputError):
    """The OpenAPI document cannot be read, or lacks what the gate needs."""


class TargetError(GateError):
    """The target server cannot be judged (unreachable, rejects the key, never answers 200)."""


class RunStopped(BaseException):
    """The target can no longer be judged mid-run (time budget spent, endless 429s).

    A BaseException, so that Hypothesis does not treat it as a failing example and shrink it
    by sending more requests to a target that has already said stop.
    """

    def __init__(self, error: GateError) -> None:
        super().__init__(str(error))
        self.error = error
