"""The scenarios of a run over any get-by-id operation: which requests the gate sends, and in which order.

Every URL is built from the operation's path template (`Context.operation`); the operation's own
scenarios (the checkout's session it creates) are played by `Gate.play` in their place.
"""

from __future__ import annotations

import json
import random
import string
import threading
import time
from dataclasses import dataclass, replace
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from conformance.aliases import aliases
from conformance.checks import KNOWN_PURPOSES, Check, Context, Verdict, judge
from conformance.errors import RunStopped, TargetError
from conformance.model import Credential, Exchange, Purpose
from conformance.operation import own_scenario
from conformance.transport import answered_without_http, broke_off, stalled, timed_out

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from conformance.credentials import KeyProbe
    from conformance.ledger import Ledger
    from conformance.operation import Operation
    from conformance.transport import Transport

LONG_ID_LENGTH = 4000
INVENTED_IDS = 3
# Known sessions read at the same moment, and how many such bursts; --concurrency sets the first.
CONCURRENT_READS = 4
CONCURRENT_ROUNDS = 3
# Other ids read from known resources' bodies (the checkout's payment ids), each then asked for as an id.
RELATED_ID_PROBES = 3


@dataclass(frozen=True)
class EdgeId:
    """An id no server holds, and why it is worth sending."""

    id: str
    why: str


def load_edge_ids() -> tuple[EdgeId, ...]:
    """The edge-case ids shipped with the package."""
    text = resources.files("conformance.data").joinpath("edge_ids.json").read_text(encoding="utf-8")
    return tuple(EdgeId(item["id"], item["why"]) for item in json.loads(text)["ids"])


@dataclass(frozen=True)
class PathId:
    """What follows the operation's path prefix (/checkouts/) in place of an id: path syntax, as sent, and why."""

    path: str
    why: str


def path_ids(known: str) -> tuple[PathId, ...]:
    """The path-syntax ids of data/path_ids.json around one id (a known one, percent-encoded as an id would be)."""
    text = resources.files("conformance.data").joinpath("path_ids.json").read_text(encoding="utf-8")
    encoded = quote(known, safe="")
    return tuple(
        PathId(item["path"].replace("{known}", encoded), item["why"].replace("{known}", encoded))
        for item in json.loads(text)["ids"]
    )


def derived_edge_ids(known_ids: tuple[str, ...]) -> tuple[EdgeId, ...]:
    """Edge-case ids made here rather than listed: one too long for a naive buffer."""
    derived = [EdgeId("x" * LONG_ID_LENGTH, f"a {LONG_ID_LENGTH}-character id")]
    return tuple(item for item in derived if item.id not in known_ids)


def invented_ids(
    seed: int, known_ids: tuple[str, ...], count: int = INVENTED_IDS, prefix: str = "cks_"
) -> tuple[str, ...]:
    """Ids shaped like real ones (`prefix` and 21 letters and digits) that name no known id; the same for a seed."""
    # Salted, so that a server seeding its own ids from the same number does not draw these.
    rng = random.Random(f"invented-ids:{seed}")  # noqa: S311 - reproducible ids, not secrets
    alphabet = string.ascii_letters + string.digits
    invented: list[str] = []
    while len(invented) < count:
        candidate = prefix + "".join(rng.choice(alphabet) for _ in range(21))
        if candidate not in known_ids and candidate not in invented:
            invented.append(candidate)
    return tuple(invented)


def fewest_requests(max_examples: int, known: int = 0) -> int:
    """The fewest requests a run sends whatever the target answers, with `known` ids given.

    The preflight, the invented ids, each known id read once (a known session that goes silent is left out
    of the later reads) and asked for without a key and with a wrong one (an invented id stands in when none
    is known), the edge-case ids and the generated ids.
    """
    keyless = 2 * known if known else 2
    return 1 + (INVENTED_IDS - 1) + known + keyless + len(load_edge_ids()) + len(derived_edge_ids(())) + max_examples


_WITHOUT = {Credential.MISSING: "without a key", Credential.WRONG: "with a wrong key"}
# Requests with the valid key refused in a row before the gate asks whether the key still works.
KEY_REFUSED_IN_A_ROW = 3
_KEY_CHECK = "sent to judge the key by what it can read, after the key was refused"


def key_refused(status: int) -> bool:
    """Whether a status refuses the key (RFC 9110 sections 15.5.2 and 15.5.4)."""
    return status in (401, 403)


def _status(exchange: Exchange | None) -> int | None:
    return exchange.response.status if exchange is not None and exchange.response is not None else None


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
        concurrency: int = CONCURRENT_READS,
        overlap: bool = True,
        observed: Callable[[Exchange, list[Verdict]], None] | None = None,
        product_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self.transport = transport
        # Where the base URL, key and product came from (settings.Settings.sources), for the hints of errors.
        self.sources = sources or {}
        self.oracle = oracle
        # A run the oracle judged says how often it agreed, even when that is always (or never: nothing to judge).
        ledger.oracle_used = ledger.oracle_used or oracle is not None
        self.concurrency = concurrency
        # False on a replay: recorded answers are judged one at a time, whatever order they were recorded in.
        self.overlap = overlap
        # The product of the session to create first (--create-session); None creates none.
        self.product_id = product_id
        self._sleep = sleep
        # Told of every judged exchange, for progress.
        self.observed = observed
        self._lock = threading.Lock()
        # Known sessions whose reply did not come within the timeout: reading them again would cost
        # another whole timeout each time and say nothing new, so later scenarios leave them out.
        self.silent: set[str] = set()
        self.checks = checks
        self.context = context
        self.operation: Operation = context.operation
        self.ledger = ledger
        self.checkout_ids = checkout_ids
        self.seed = seed
        prefix = self.operation.id_prefix
        self.invented = invented_ids(seed, checkout_ids, prefix=prefix)
        # An id no request of the run asks for, for the one time the key's refusals must be told from a cache's.
        self._never_asked = invented_ids(seed + 1, (*checkout_ids, *self.invented), count=1, prefix=prefix)[0]
        # Other ids the known resources' bodies name (the checkout's payment ids), each with its field, in the
        # order first read.
        self.related_ids: dict[str, str] = {}
        # Each distinctive value read from a known session's body: the sessions that carried it, and where first.
        self._value_owners: dict[str, tuple[dict[str, None], str]] = {}
        # The valid key's record: refusals in a row, the first of them, a request it was accepted for
        # (sent again to tell a revoked key from a server that refuses some ids), and whether that showed it works.
        self._key_refusals = 0
        self._first_refusal: tuple[int, Exchange] | None = None
        self._accepted: Exchange | None = None
        self._key_works = False
        self._checking_key = False

    def observe(self, exchange: Exchange) -> Exchange:
        """Judge an exchange sent outside a scenario's own loop (the one that ended a run, or an operation's own)."""
        return self._observe(exchange)

    def play(self, scenario: str) -> None:
        """Play one scenario by name: the operation's own, or a generic one (a method of this class)."""
        own = own_scenario(self.operation, scenario)
        if own is not None:
            own.play(self)
        else:
            getattr(self, scenario)()

    def get(  # noqa: PLR0913 - an exchange is described by all of these
        self,
        resource_id: str,
        purpose: Purpose,
        credential: Credential = Credential.VALID,
        previous: Exchange | None = None,
        *,
        probe: KeyProbe | None = None,
        why: str | None = None,
        transport: Transport | None = None,
    ) -> Exchange:
        """Send the operation for one id (escaped into its path template); not yet judged."""
        return (transport or self.transport).get_path(
            self.operation.path_for(resource_id), resource_id, purpose, credential,
            previous=previous, probe=probe, why=why,
        )  # fmt: skip

    def sleep(self, seconds: float) -> None:
        """Wait, as the run waits (a test's clock stands in for it)."""
        self._sleep(seconds)

    def _observe(self, exchange: Exchange) -> Exchange:
        verdicts = judge(self.context, exchange, self.checks)
        disagreements, oracle_judged = [], False
        if self.oracle is not None:
            # Imported here: only with --oracle.
            from conformance.oracles import judged_by_schemathesis, schemathesis_disagreements  # noqa: PLC0415

            disagreements = schemathesis_disagreements(self.context, self.oracle, exchange)
            oracle_judged = judged_by_schemathesis(exchange)
        with self._lock:
            self.ledger.record(exchange, verdicts)
            self.ledger.oracle_disagreements.update(disagreements)
            if oracle_judged:
                self.ledger.oracle_judged += 1
                self.ledger.oracle_agreed += not disagreements
            error = exchange.transport_error
            if (
                exchange.response is None
                and exchange.purpose in KNOWN_PURPOSES
                and (timed_out(error) or stalled(error))
            ):
                self.silent.add(exchange.checkout_id)
            self._note_related_ids(exchange)
            self._note_session_values(exchange)
            if self.observed is not None:
                self.observed(exchange, verdicts)
            check_key = self._note_key(exchange)
        if check_key:
            self._check_key()
        return exchange

    def _note_key(self, exchange: Exchange) -> bool:
        """Count the valid key's refusals in a row; True when they call for asking whether it still works."""
        response = exchange.response
        if exchange.credential is not Credential.VALID or response is None or exchange.purpose is Purpose.CREATE:
            return False
        if not key_refused(response.status):
            self._key_refusals, self._first_refusal = 0, None
            # A 200 or a 404 shows the key was let through to the lookup; a found session shows it best.
            better = response.status == 200 and _status(self._accepted) != 200
            if better or (response.status == 404 and self._accepted is None):
                self._accepted = exchange
            return False
        self._key_refusals += 1
        if self._first_refusal is None:
            self._first_refusal = (self.transport.requests_sent, exchange)
        if self._key_refusals < KEY_REFUSED_IN_A_ROW or self._key_works or self._checking_key:
            return False
        self._checking_key = True
        return True

    def _check_key(self) -> None:
        """Send again a request the key was accepted for: refused now, the key was revoked and the run stops.

        Answered, the key works and the refusals were the server's own fault (judged as such); the key is not
        asked about again in this run.
        """
        accepted, first = self._accepted, self._first_refusal
        if accepted is None or first is None:
            self._checking_key = False
            return
        again = self.get(accepted.checkout_id, accepted.purpose, why=_KEY_CHECK)
        asked = [again]
        if again.response is not None and key_refused(again.response.status):
            # A cache in front that keeps 401s by URL refuses a URL it has seen refused, whatever the key: a
            # revoked key is refused for a URL never asked before too.
            asked.append(self.get(self._never_asked, Purpose.UNKNOWN, why=_KEY_CHECK))
        if any(exchange.response is None for exchange in asked):
            # No answer says nothing of the key: the next refusal asks again (silence has its own limit).
            with self._lock:
                self._checking_key = False
            for exchange in asked:
                self._observe(exchange)
            return
        if len(asked) > 1 and key_refused(_status(asked[1]) or 0):  # refused again, and for a new URL too
            number, refused = first
            raise RunStopped(
                TargetError(
                    f"the target accepted the API key, then refused it at request {number} of the run "
                    f"({refused.request.method} {refused.request.url}, {refused.purpose}: status {_status(refused)}) "
                    f"and at every request with the key since, and refuses it now ({_status(again)}) for "
                    f"{accepted.checkout_id!r}, which it had answered {_status(accepted)} with the same key, and "
                    f"for an id never asked before ({_status(asked[1])}): the key was revoked or expired mid-run",
                    "pass a valid test-mode key and rerun",
                )
            )
        with self._lock:
            self._key_works = True
            self._checking_key = False
        for exchange in asked:
            self._observe(exchange)

    def _note_related_ids(self, exchange: Exchange) -> None:
        response = exchange.response
        if exchange.purpose is not Purpose.KNOWN or exchange.credential is not Credential.VALID:
            return
        if response is None or response.status != self.operation.success_status:
            return
        for field in self.operation.related_id_fields:
            related = response.text_field(field)
            if related is not None and related not in self.checkout_ids:
                self.related_ids.setdefault(related, field)

    def _note_session_values(self, exchange: Exchange) -> None:
        """Learn a known session's distinctive values from its 200, for errors.no_disclosure (caller holds the lock)."""
        response = exchange.response
        if exchange.purpose not in KNOWN_PURPOSES or exchange.credential is not Credential.VALID:
            return
        if response is None or response.status != self.operation.success_status:
            return
        ok, body = response.parsed
        if not ok or not isinstance(body, dict) or body.get("id") != exchange.checkout_id:
            return
        for value, where in self.operation.distinctive_values(exchange.checkout_id, body):
            self._value_owners.setdefault(value, ({}, where))[0][exchange.checkout_id] = None
        # A value two sessions share (a debug echo of the request, a shared name) is no one session's data.
        values = tuple((value, where) for value, (owners, where) in self._value_owners.items() if len(owners) == 1)
        if values != self.context.session_values:
            self.context = replace(self.context, session_values=values)

    def _answering(self, checkout_ids: list[str] | tuple[str, ...]) -> list[str]:
        return [checkout_id for checkout_id in checkout_ids if checkout_id not in self.silent]

    def preflight(self) -> None:
        """Ask for an invented id once: an unreachable target or a rejected key stops the run here.

        The key is judged by what it can read: an invented id refused while the key reads the first known
        session is the server's fault (authorisation checked after the lookup), judged like any answer.
        """
        exchange = self.get(self.invented[0], Purpose.UNKNOWN)
        target = self.transport.base_url
        if exchange.response is None and answered_without_http(exchange.transport_error):
            raise TargetError(
                f"the target {target} cannot be judged: {exchange.transport_error}",
                "check that --base-url, scheme included, points at the HTTP API",
            )
        if exchange.response is None and not broke_off(exchange.transport_error):
            raise TargetError(
                f"the target {target} cannot be reached: {exchange.transport_error}",
                f"check {self.sources.get('base_url', '--base-url')} and that the server is running",
            )
        if exchange.response is not None and key_refused(exchange.response.status):
            known = self.get(self.checkout_ids[0], Purpose.KNOWN, why=_KEY_CHECK) if self.checkout_ids else None
            if known is None or known.response is None or key_refused(known.response.status):
                raise TargetError(
                    f"the target {target} rejected the API key with {exchange.response.status} at the first request"
                    + ("" if known is None else ", and for the known session it asked for next"),
                    f"pass a valid test-mode key with {self.sources.get('api_key', '--api-key')}",
                )
            self._observe(exchange)
            self._observe(known)
            return
        # Only a usable answer is judged: a broken setup must not read as a failed check.
        self._observe(exchange)

    def known_sessions(self) -> None:
        """Read every known session twice."""
        for checkout_id in self.checkout_ids:
            first = self._observe(self.get(checkout_id, Purpose.KNOWN))
            if checkout_id not in self.silent:
                self._observe(self.get(checkout_id, Purpose.REREAD, previous=first))

    def credentials(self) -> None:
        """Ask for every known session without a key and with a wrong one; then for the first, with near misses.

        With no known session, an invented id stands in; a near miss is then pointless (its 404 would say
        nothing about the key), so none is sent. An operation that takes no key is sent none of these.
        """
        if not self.operation.secured:
            return
        rejected: dict[Credential, Exchange] = {}
        for checkout_id in self.checkout_ids or self.invented[:1]:
            purpose = Purpose.KNOWN if self.checkout_ids else Purpose.UNKNOWN
            for credential in (Credential.MISSING, Credential.WRONG):
                exchange = self._observe(self.get(checkout_id, purpose, credential))
                rejected.setdefault(credential, exchange)
        if self.checkout_ids:
            # The same without a key for an id no session has: a different answer tells who exists.
            for credential, known in rejected.items():
                self._observe(self.get(self.invented[0], Purpose.UNKNOWN, credential, previous=known))
        if self.checkout_ids:
            why = "HEAD is GET without the body (RFC 9110 section 9.3.2): its status shows what GET would"
            self._observe(
                self.transport.head_path(self.operation.path_for(self.checkout_ids[0]), self.checkout_ids[0], why)
            )
            for probe in self.transport.key_probes():
                self._observe(self.get(self.checkout_ids[0], Purpose.KNOWN, probe=probe))
            # Who is signed in must end with the request: a server that keeps it in shared state, and clears
            # it only on the way out of a 200, lets the next request in without a key.
            for credential in (Credential.MISSING, Credential.WRONG):
                self._observe(self.get(self.invented[0], Purpose.UNKNOWN))
                why = f"sent {_WITHOUT[credential]} right after a request with the key that found no session"
                self._observe(self.get(self.checkout_ids[0], Purpose.KNOWN, credential, why=why))

    def invented_ids(self) -> None:
        """Ask for invented ids shaped like real ones."""
        for checkout_id in self.invented[1:]:
            self._observe(self.get(checkout_id, Purpose.UNKNOWN))

    def edge_ids(self) -> None:
        """Ask for ids that break naive routing, decoding and lookups."""
        for edge in (*load_edge_ids(), *derived_edge_ids(self.checkout_ids)):
            self._observe(self.get(edge.id, Purpose.EDGE, why=edge.why))

    def path_syntax_ids(self) -> None:
        """Ask for ids that are path syntax (data/path_ids.json), around the first known id: none is a session."""
        for item in path_ids((self.checkout_ids or self.invented)[0]):
            # The id as a server decodes it, which is what a 200 body would name.
            checkout_id = unquote(item.path)
            path = self.operation.raw_path(item.path)
            self._observe(self.transport.get_path(path, checkout_id, Purpose.PATH, why=item.why))

    def aliases(self) -> None:
        """Ask for ids a lenient lookup would resolve to a known session (data/aliases.json says why each).

        Then for a few other ids the known bodies named (the operation's related_id_fields: a checkout's
        payment id): a lookup that also searches another column (`WHERE id = ? OR payment_id = ?`) finds a
        resource by an id that is not its own.
        """
        for alias in aliases(self.checkout_ids):
            self._observe(self.get(alias.id, Purpose.ALIAS, why=alias.why))
        operation = self.operation
        for related, field in list(self.related_ids.items())[:RELATED_ID_PROBES]:
            why = f"the {field.replace('_', ' ')} of a known {operation.noun}, asked for as a {operation.id_noun}"
            self._observe(self.get(related, Purpose.ALIAS, why=why))

    def reused_connection(self) -> None:
        """Read every known session, each followed by another, on one kept-alive connection."""
        answering = self._answering(self.checkout_ids)
        if len(answering) < 2:
            return
        order = [*answering, answering[0]]
        why = "read right after another session on the same kept-alive connection"
        for exchange in self.transport.read_on_one_connection(order, why, path_for=self.operation.path_for):
            self._observe(exchange)

    def concurrent_reads(self) -> None:
        """Read known sessions several at once, a few rounds: shared state shows only when requests overlap.

        Each burst is paid for at the rate limit in advance, then leaves at once on connections of its own.
        """
        ids = self._answering(self.checkout_ids)
        if self.concurrency < 2 or not ids:
            return
        width = self.concurrency
        for round_ in range(CONCURRENT_ROUNDS):
            chosen = [ids[(round_ * width + place) % len(ids)] for place in range(width)]
            why = f"read at the same moment as {width - 1} other known sessions"
            if not self.overlap:
                for checkout_id in chosen:
                    self._observe(self.get(checkout_id, Purpose.CONCURRENT, why=why))
                continue
            self._burst(chosen, why)
        # Load shedding that skips the key check (a breaker that fails open) shows right after the overlap.
        for credential in (Credential.MISSING, Credential.WRONG) if self.operation.secured else ():
            why = f"sent {_WITHOUT[credential]} right after {width} requests overlapped"
            self._observe(self.get(ids[0], Purpose.KNOWN, credential, why=why))

    def _burst(self, chosen: list[str], why: str) -> None:
        clones = [self.transport.clone() for _ in chosen]
        start = threading.Barrier(len(chosen))
        failures: list[BaseException] = []

        def read(transport: Transport, checkout_id: str) -> None:
            try:
                start.wait()
                self._observe(self.get(checkout_id, Purpose.CONCURRENT, why=why, transport=transport))
            except BaseException as error:  # noqa: BLE001 - handed to the scenario's thread below
                failures.append(error)
                start.abort()

        try:
            with self.transport.burst(len(chosen)):
                threads = [
                    threading.Thread(target=read, args=pair, daemon=True) for pair in zip(clones, chosen, strict=True)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        finally:
            for clone in clones:
                clone.close()
        real = [failure for failure in failures if not isinstance(failure, threading.BrokenBarrierError)]
        if real:
            raise real[0]

    def generated_case(self, case: Any) -> None:  # noqa: ANN401 - a schemathesis.Case
        """Send one Schemathesis-generated request."""
        self._observe(self.transport.send_case(case, id_in_path=self.operation.id_in_path))

    def recorded(self, exchanges: list[Exchange]) -> None:
        """Judge exchanges read from a recording, without sending anything."""
        for exchange in exchanges:
            self._observe(exchange)
