"""The scenarios of a run: which requests the gate sends, and in which order."""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from conformance.checks import Check, Context, judge
from conformance.errors import TargetError
from conformance.model import Credential, Exchange, Purpose

if TYPE_CHECKING:
    from conformance.ledger import Ledger
    from conformance.transport import Transport

LONG_ID_LENGTH = 4000
INVENTED_IDS = 3


@dataclass(frozen=True)
class EdgeId:
    """An id no server holds, and why it is worth sending."""

    id: str
    why: str


def load_edge_ids() -> tuple[EdgeId, ...]:
    """The edge-case ids shipped with the package."""
    text = resources.files("conformance.data").joinpath("edge_ids.json").read_text(encoding="utf-8")
    return tuple(EdgeId(item["id"], item["why"]) for item in json.loads(text)["ids"])


def derived_edge_ids(known_ids: tuple[str, ...]) -> tuple[EdgeId, ...]:
    """Near misses of the known ids, which only a prefix or case-insensitive lookup would answer."""
    derived = [EdgeId("x" * LONG_ID_LENGTH, f"a {LONG_ID_LENGTH}-character id")]
    for known in known_ids:
        derived.append(EdgeId(known[:-1], f"{known} without its last character"))
        derived.append(EdgeId(known + "0", f"{known} with one more character"))
        swapped = known.swapcase()
        if swapped != known:
            derived.append(EdgeId(swapped, f"{known} with its letters' case swapped"))
    return tuple(item for item in derived if item.id not in known_ids)


def invented_ids(seed: int, known_ids: tuple[str, ...], count: int = INVENTED_IDS) -> tuple[str, ...]:
    """Ids shaped like real ones that name no known session; the same for the same seed."""
    # Salted, so that a server seeding its own ids from the same number does not draw these.
    rng = random.Random(f"invented-ids:{seed}")  # noqa: S311 - reproducible ids, not secrets
    alphabet = string.ascii_letters + string.digits
    invented: list[str] = []
    while len(invented) < count:
        candidate = "cks_" + "".join(rng.choice(alphabet) for _ in range(21))
        if candidate not in known_ids and candidate not in invented:
            invented.append(candidate)
    return tuple(invented)


class Gate:
    """Sends each scenario's requests through the transport, judges them, and records the verdicts."""

    def __init__(  # noqa: PLR0913 - the parts a run is made of
        self,
        transport: Transport,
        context: Context,
        ledger: Ledger,
        checkout_ids: tuple[str, ...],
        seed: int,
        *,
        checks: list[Check] | None = None,
        oracle: Any = None,  # noqa: ANN401 - an APIOperation: Schemathesis' checks judge every exchange too
    ) -> None:
        self.transport = transport
        self.oracle = oracle
        self.checks = checks
        self.context = context
        self.ledger = ledger
        self.checkout_ids = checkout_ids
        self.seed = seed
        self.invented = invented_ids(seed, checkout_ids)

    def _observe(self, exchange: Exchange) -> Exchange:
        self.ledger.record(exchange, judge(self.context, exchange, self.checks))
        if self.oracle is not None:
            from conformance.oracles import schemathesis_disagreements  # noqa: PLC0415 - only with --oracle

            self.ledger.oracle_disagreements += schemathesis_disagreements(self.context, self.oracle, exchange)
        return exchange

    def preflight(self) -> None:
        """Ask for an invented id once: an unreachable target or a rejected key stops the run here."""
        exchange = self.transport.get_checkout(self.invented[0], Purpose.UNKNOWN)
        target = self.transport.base_url
        if exchange.response is None:
            raise TargetError(
                f"the target {target} cannot be reached: {exchange.transport_error}",
                "check --base-url and that the server is running",
            )
        if exchange.response.status in (401, 403):
            raise TargetError(
                f"the target {target} rejected the API key with {exchange.response.status}",
                "pass a valid test-mode key with --api-key or DODO_PAYMENTS_API_KEY",
            )
        # Only a usable answer is judged: a broken setup must not read as a failed check.
        self._observe(exchange)

    def known_sessions(self) -> None:
        """Read every known session twice."""
        for checkout_id in self.checkout_ids:
            first = self._observe(self.transport.get_checkout(checkout_id, Purpose.KNOWN))
            self._observe(self.transport.get_checkout(checkout_id, Purpose.REREAD, previous=first))

    def credentials(self) -> None:
        """Ask for every known session (or an invented id, when none is known) without a key and with a wrong one."""
        for checkout_id in self.checkout_ids or self.invented[:1]:
            purpose = Purpose.KNOWN if self.checkout_ids else Purpose.UNKNOWN
            for credential in (Credential.MISSING, Credential.WRONG):
                self._observe(self.transport.get_checkout(checkout_id, purpose, credential))

    def invented_ids(self) -> None:
        """Ask for invented ids shaped like real ones."""
        for checkout_id in self.invented[1:]:
            self._observe(self.transport.get_checkout(checkout_id, Purpose.UNKNOWN))

    def edge_ids(self) -> None:
        """Ask for ids that break naive routing, decoding and lookups."""
        for edge in (*load_edge_ids(), *derived_edge_ids(self.checkout_ids)):
            self._observe(self.transport.get_checkout(edge.id, Purpose.EDGE))

    def generated_case(self, case: Any) -> None:  # noqa: ANN401 - a schemathesis.Case
        """Send one Schemathesis-generated request."""
        self._observe(self.transport.send_case(case))

    def recorded(self, exchanges: list[Exchange]) -> None:
        """Judge exchanges read from a recording, without sending anything."""
        for exchange in exchanges:
            self._observe(exchange)
