"""The operations the gate judges, each a descriptor (conformance.operation.Operation)."""

from __future__ import annotations

from conformance.checks import checks_for
from conformance.operations.checkout import CHECKOUT

# The operation a run judges unless told otherwise.
DEFAULT = CHECKOUT
# Every check of the default operation, by id, in the order the reports list them: what `conformance list`,
# --exclude-check, the pytest suite and the reports name.
REGISTRY = checks_for(DEFAULT)
