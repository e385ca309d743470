"""Errors that stop the gate before it can judge, each mapped to one exit code."""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of `conformance run`; each means one thing."""

    CONFORMS = 0
    NON_CONFORMANT = 1
    BAD_INPUT = 2
    CANNOT_JUDGE = 3
    # sysexits.h's EX_IOERR: the verdict was reached and printed, but an output asked for could not be written.
    # Apart from 1 and 3 (the target was judged; retrying may help), and from pytest's own codes 0 to 5.
    OUTPUT_NOT_WRITTEN = 74
    # 128 + the signal, as a shell reports a process the signal ended.
    HANGUP = 128 + signal.SIGHUP
    INTERRUPTED = 128 + signal.SIGINT
    TERMINATED = 128 + signal.SIGTERM


# The codes of a run that was stopped before it finished, by the signal that stopped it.
STOPPED_BY: dict[int, ExitCode] = {
    signal.SIGHUP: ExitCode.HANGUP,
    signal.SIGINT: ExitCode.INTERRUPTED,
    signal.SIGTERM: ExitCode.TERMINATED,
}
STOPPED = frozenset(STOPPED_BY.values())
# How bad an ending is, worst first; where two front ends or two causes each have a code, the worse wins.
# A run stopped by a signal finished nothing; one that could not judge (or a gate or pytest that broke)
# reached no verdict; a run whose output could not be written reached one; bad input ran nothing; a
# failure is a verdict; pytest's "no tests collected" and a pass say nothing is wrong. pytest's own codes
# (1 failed, 2 interrupted, 3 internal error, 4 usage error, 5 no tests) take the rank of their meaning.
SEVERITY = (
    frozenset({*STOPPED, 2}),  # 2 here is pytest's "interrupted": the conformance command never ends with it
    frozenset({ExitCode.CANNOT_JUDGE}),
    frozenset({ExitCode.OUTPUT_NOT_WRITTEN}),
    frozenset({4}),  # pytest's usage error, the conformance command's bad input (2) in pytest
    frozenset({ExitCode.NON_CONFORMANT}),
    frozenset({5}),
    frozenset({ExitCode.CONFORMS}),
)


def worse(first: int, second: int) -> int:
    """The worse of two exit codes by SEVERITY; on a tie, the first; a code SEVERITY does not know is the worst."""

    def rank(code: int) -> int:
        return next((index for index, codes in enumerate(SEVERITY) if code in codes), -1)

    return second if rank(second) < rank(first) else first


class OutputNotWrittenError(Exception):
    """An output (a report, the SARIF log, the recording) could not be written after the run reached its verdict."""

    def __init__(self, path: object, error: OSError) -> None:
        super().__init__(f"{path} could not be written ({error.strerror or error})")
        self.path = path


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


class StoppedBySignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a run (what CI sends on cancel or timeout): handled as Ctrl-C is, with its own code."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = STOPPED_BY.get(signum, ExitCode.INTERRUPTED)


class RunStopped(BaseException):
    """The target can no longer be judged mid-run (time budget spent, endless 429s).

    A BaseException, so that Hypothesis does not treat it as a failing example and shrink it
    by sending more requests to a target that has already said stop.
    """

    def __init__(self, error: GateError) -> None:
        super().__init__(str(error))
        self.error = error
