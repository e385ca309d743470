"""What became of each mutant, and the scores of a module and of its critical functions."""

from __future__ import annotations

from dataclasses import dataclass, field

from targets import Target

# Outcomes that are not counted: filtered as noise, or a mutant Cosmic Ray's operator failed to make.
UNCOUNTED = ("filtered", "unmutatable")


class HarnessError(Exception):
    """The run cannot judge the tests: a broken baseline, a planted mutant that survives, a worker that fails."""


@dataclass
class Mutant:
    """One mutant and what became of it."""

    module: str
    line: int
    column: int
    operator: str
    function: str | None
    outcome: str  # killed, timeout, survived, error, filtered
    original: str = ""
    mutated: str = ""
    occurrence: int = 1
    note: str = ""  # why it was filtered or accepted, or the error

    @property
    def key(self) -> tuple[str, str, str, int]:
        """What identifies the mutant across unrelated edits: the lines' text, not their numbers."""
        return (self.module, self.original, self.mutated, self.occurrence)


@dataclass
class Score:
    """Counts for a module or a part of one."""

    mutants: int = 0
    killed: int = 0
    timeouts: int = 0
    survived: int = 0
    accepted: int = 0  # set by apply_accepted, from mutation/accepted.toml
    errors: int = 0

    def add(self, mutant: Mutant) -> None:
        """Count one mutant that was run."""
        self.mutants += 1
        if mutant.outcome == "killed":
            self.killed += 1
        elif mutant.outcome == "timeout":
            self.timeouts += 1
        elif mutant.outcome == "error":
            self.errors += 1
        else:
            self.survived += 1

    @property
    def score(self) -> float:
        """(killed + timeouts) / (mutants - accepted); 1.0 when nothing is left to kill."""
        judged = self.mutants - self.accepted
        return (self.killed + self.timeouts) / judged if judged else 1.0


@dataclass
class ModuleResult:
    """A module's mutants, counts and whether it meets its targets."""

    target: Target
    tests: list[str]
    timeout_seconds: float
    baseline_seconds: float
    seconds: float = 0.0
    mutants: list[Mutant] = field(default_factory=list)
    # Mutants that never ran because the run was stopped (Ctrl-C, SIGTERM) while this module was being judged.
    not_run: int = 0
    # Functions Cosmic Ray made no mutant in: it has no operator for calls, strings or whole statements.
    unreached: list[str] = field(default_factory=list)

    def score(self, functions: tuple[str, ...] = ()) -> Score:
        """Counts over every mutant that ran, or only over those inside `functions`."""
        score = Score()
        for mutant in self.mutants:
            if mutant.outcome not in UNCOUNTED and (not functions or mutant.function in functions):
                score.add(mutant)
        return score


def tail(text: str, lines: int = 30) -> str:
    """The last `lines` lines of a command's output, for an error message."""
    return "\n".join(text.rstrip().splitlines()[-lines:])
