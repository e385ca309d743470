"""Makes generated requests depend only on the spec, the seed and the settings."""

from __future__ import annotations

from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

_EMPTY = Constants()


def _no_local_constants() -> Constants:
    return _EMPTY


def fix_generated_data() -> None:
    """Stop Hypothesis from mixing string literals of local modules into generated data.

    Hypothesis scans every imported module under the working directory for literals and
    draws from them now and then, so editing any helper, or launching from another folder,
    changes the requests sent and breaks replay. No setting turns this off (Hypothesis issue
    #4627), so the private provider hook is replaced.
    """
    if not callable(getattr(providers, "_get_local_constants", None)):
        # Patching a name Hypothesis no longer calls would silently let local literals back in.
        msg = "hypothesis.internal.conjecture.providers._get_local_constants is gone; see conformance/determinism.py"
        raise RuntimeError(msg)  # noqa: TRY004 - an upgrade broke an assumption; not a wrong argument
    providers._get_local_constants = _no_local_constants  # noqa: SLF001 - see the docstring
