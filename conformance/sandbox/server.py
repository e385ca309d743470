"""A real HTTP server on 127.0.0.1 that answers Dodo's business reads and POST /checkouts as its test mode would."""

from __future__ import annotations

import gzip
import json
import math
import random
import secrets
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, unquote, urlsplit

from conformance.sandbox.catalogue import Catalogue, PageError, match, seeded_catalogue
from conformance.sandbox.sessions import (
    ID_ALPHABET,
    SEED,
    CheckoutSession,
    Product,
    seeded_products,
    seeded_sessions,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType

ROUTE_PREFIX = "/checkouts/"
CREATE_ROUTE = "/checkouts"
# A created session's checkout page, on a host that can never resolve (.invalid, RFC 6761).
CHECKOUT_URL = "https://checkout.sandbox.invalid/session/{session_id}"
# ProductItemReq.quantity: an int32 with minimum 0.
MAX_QUANTITY = 2**31 - 1
INTERIM_REASONS = {102: "Processing", 103: "Early Hints"}
# Created sessions are stamped by a seeded clock, a second apart from this instant, so that a recording made again
# holds the same ids and times.
CREATED_EPOCH = datetime(2026, 3, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Reply:
    """What the sandbox answers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Faults of the transport, for broken variants: wait before answering (`math.inf`: until the client
    # gives up), or close without a word.
    delay_seconds: float = 0.0
    drop_connection: bool = False
    # How the reply travels, all valid HTTP/1.1: interim 1xx responses first (RFC 9110 section 15.2),
    # a gzip-coded body, a chunked body, or a body that ends when the connection closes.
    interim: tuple[int, ...] = ()
    gzip: bool = False
    chunked: bool = False
    close_delimited: bool = False
    # Faults of delivery: the headers come at once, the body one byte at a time, never finishing; or the
    # whole reply is written twice, so the next answer on the connection is this one again.
    trickle: bool = False
    twice: bool = False

    @classmethod
    def json(cls, status: int, payload: object, content_type: str = "application/json") -> Reply:
        """A reply with a JSON body."""
        return cls(status, json.dumps(payload).encode(), {"Content-Type": content_type})

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Reply:
        """An error in Dodo's documented shape."""
        return cls.json(status, {"code": code, "message": message})


# The answer to a request without the valid key, on every route, with the challenge RFC 9110 section 11.6.1 asks for.
_REFUSED = Reply.error(401, "UNAUTHORIZED", "Missing or invalid bearer token")
UNAUTHORIZED = replace(_REFUSED, headers={**_REFUSED.headers, "WWW-Authenticate": 'Bearer realm="dodo-sandbox"'})


class CheckoutApi:
    """The behaviour of the test-mode server for this operation. Broken variants override one step."""

    # Whether some replies wait for the client's timeout: the selftest starts such variants first.
    holds_replies = False

    def __init__(
        self, api_key: str, sessions: tuple[CheckoutSession, ...], products: tuple[Product, ...] | None = None
    ) -> None:
        self.api_key = api_key
        self.seeded_ids = tuple(session.id for session in sessions)
        # Grows as sessions are created, by replacing the whole dict under the lock: a variant going
        # through the old one in another thread never sees it change size.
        self.sessions = {session.id: session for session in sessions}
        self.products = {product.id: product for product in (seeded_products() if products is None else products)}
        self._store_lock = threading.Lock()
        # The business reads' records are built on the first read of one (and shared by every sandbox with the same
        # sessions and products): a sandbox that only serves checkouts never pays for them.
        self._seeded = (tuple(sessions), tuple(self.products.values()))
        self._catalogue: Catalogue | None = None
        self._created = random.Random(f"created:{SEED}")  # noqa: S311 - stable ids, not secrets
        self._created_count = 0
        self._created_lock = threading.Lock()

    @property
    def catalogue(self) -> Catalogue:
        """The seeded records of every business read but the checkout's, and their bodies."""
        if self._catalogue is None:
            self._catalogue = seeded_catalogue(SEED, *self._seeded)
        return self._catalogue

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        """Answer one request."""
        checkout_id = self.checkout_id_of(target)
        if checkout_id is None:
            return self.read(method, target, headers)
        if method != "GET":
            reply = Reply.error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
            return replace(reply, headers={**reply.headers, "Allow": "GET"})
        if not self.authorized(headers.get("Authorization")):
            return UNAUTHORIZED
        session = self.lookup(checkout_id)
        if session is None:
            return Reply.error(404, "NOT_FOUND", "Checkout session not found")
        return self.render(session)

    @staticmethod
    def checkout_id_of(target: str) -> str | None:
        """The decoded id of a /checkouts/{id} request target; None for any other route."""
        path = urlsplit(target).path
        segment = path[len(ROUTE_PREFIX) :]
        if not path.startswith(ROUTE_PREFIX) or "/" in segment:
            return None
        return unquote(segment)

    def read(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        """Answer a request for any route but /checkouts/{id}: a business read, or 404."""
        parts = urlsplit(target)
        # Matched against the templates alone: a path no business read has never builds the records.
        matched = match(parts.path)
        if matched is None:
            return Reply.error(404, "NOT_FOUND", "No such route")
        template, values = matched
        route = self.catalogue.routes[template]
        if method != "GET":
            reply = Reply.error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
            return replace(reply, headers={**reply.headers, "Allow": "GET"})
        if route.read.secured and not self.authorized(headers.get("Authorization")):
            return UNAUTHORIZED
        try:
            body = self.catalogue.body(route, values, parts.query)
        except PageError as exc:
            return Reply.error(422, "INVALID_QUERY", str(exc))
        if body is None:
            return Reply.error(404, "NOT_FOUND", f"{route.noun} not found")
        return Reply(200, body, {"Content-Type": route.read.media_type})

    def authorized(self, header: str | None) -> bool:
        """Whether the Authorization header carries this sandbox's key."""
        return header is not None and secrets.compare_digest(header.encode(), f"Bearer {self.api_key}".encode())

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        """The session with this id, if it exists."""
        return self.sessions.get(checkout_id)

    def render(self, session: CheckoutSession) -> Reply:
        """The 200 reply for a session."""
        return Reply.json(200, session.as_json())

    def create(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer POST /checkouts: a cart of known products creates a session at the details stage."""
        if not self.authorized(headers.get("Authorization")):
            return UNAUTHORIZED
        rejection = self.cart_rejection(body)
        if rejection is not None:
            return rejection
        session = self.new_session()
        self.store(session.id, session)
        return self.created_reply(session)

    def cart_rejection(self, body: bytes) -> Reply | None:
        """The 422 for a request body that cannot create a session; None for one that can."""
        try:
            payload = json.loads(body)
        except ValueError:  # not UTF-8 or not JSON
            return Reply.error(422, "INVALID_REQUEST_BODY", "The request body is not JSON")
        problem = _cart_problem(payload)
        if problem is not None:
            return Reply.error(422, "INVALID_REQUEST_BODY", problem)
        for index, item in enumerate(payload["product_cart"]):
            if item["product_id"] not in self.products:
                message = f"product_cart[{index}].product_id: there is no product {item['product_id']!r}"
                return Reply.error(422, "PRODUCT_NOT_FOUND", message)
        return None

    def new_session(self) -> CheckoutSession:
        """A new session at the details stage: no customer and no payment yet; its id and time come from the seed."""
        with self._created_lock:
            moment = CREATED_EPOCH + timedelta(seconds=self._created_count)
            self._created_count += 1
        created_at = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return CheckoutSession(self.fresh_id("cks_"), created_at, None, None, None, None)

    def fresh_id(self, prefix: str) -> str:
        """The next id of this sandbox's seeded sequence: the prefix and 21 letters or digits."""
        with self._created_lock:
            return prefix + "".join(self._created.choice(ID_ALPHABET) for _ in range(21))

    def store(self, session_id: str, session: CheckoutSession) -> None:
        """Keep a created session so that reads of `session_id` find it."""
        with self._store_lock:
            self.sessions = {**self.sessions, session_id: session}

    def created_reply(self, session: CheckoutSession) -> Reply:
        """The 200 reply naming the created session; the fields only `confirm: true` fills stay null."""
        return Reply.json(
            200,
            {
                "session_id": session.id,
                "checkout_url": CHECKOUT_URL.format(session_id=quote(session.id, safe="")),
                "client_secret": None,
                "payment_id": None,
                "publishable_key": None,
            },
        )


def _cart_problem(payload: object) -> str | None:
    """What makes a decoded body an invalid CreateCheckoutSessionRequest, as far as its cart goes."""
    if not isinstance(payload, dict):
        return "The request body must be a JSON object"
    if "product_cart" not in payload:
        return "product_cart is required"
    cart = payload["product_cart"]
    if not isinstance(cart, list):
        return "product_cart must be an array"
    if not cart:
        return "product_cart must hold at least one item"
    for index, item in enumerate(cart):
        problem = _item_problem(index, item)
        if problem is not None:
            return problem
    return None


def _item_problem(index: int, item: object) -> str | None:
    """What makes one cart item an invalid ProductItemReq: product_id and quantity are both required."""
    where = f"product_cart[{index}]"
    if not isinstance(item, dict):
        return f"{where} must be an object"
    if not isinstance(item.get("product_id"), str):
        return f"{where}.product_id must be a string"
    if "quantity" not in item:
        return f"{where}.quantity is required"
    quantity = item["quantity"]
    # JSON's true is no integer, though Python's bool is an int.
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 <= quantity <= MAX_QUANTITY:
        return f"{where}.quantity must be an integer from 0 to {MAX_QUANTITY}"
    return None


class _Handler(BaseHTTPRequestHandler):
    """Hands every request, whatever its method, to the CheckoutApi."""

    api: CheckoutApi
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write at the handler's flush, and small writes are not
    # held back (Nagle against delayed ACKs costs 40 ms a request otherwise).
    wbufsize = -1
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        """The Server header."""
        return "dodo-sandbox"

    def __getattr__(self, name: str) -> Callable[[], None]:
        # BaseHTTPRequestHandler looks up do_<METHOD>; answer every method, known or not.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        if self.command == "POST" and urlsplit(self.path).path == CREATE_ROUTE:
            reply = self.api.create(headers, body)
        else:
            reply = self.api.handle(self.command, self.path, headers)
        if math.isinf(reply.delay_seconds):
            self._wait_for_client_to_leave()
            self.close_connection = True
            return
        if reply.delay_seconds:
            time.sleep(reply.delay_seconds)
        if reply.drop_connection:
            self.close_connection = True
            return
        for status in reply.interim:
            self.wfile.write(f"HTTP/1.1 {status} {INTERIM_REASONS.get(status, 'Interim')}\r\n".encode())
            self.wfile.write(b"Link: </checkout.css>; rel=preload; as=style\r\n\r\n")
            self.wfile.flush()
        body = gzip.compress(reply.body, mtime=0) if reply.gzip else reply.body
        for _ in range(2 if reply.twice else 1):
            self._send_head(reply, body)
            if self.command != "HEAD":
                self._send_body(reply, body)

    def _send_head(self, reply: Reply, body: bytes) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.gzip:
            self.send_header("Content-Encoding", "gzip")
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif reply.close_delimited:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def _send_body(self, reply: Reply, body: bytes) -> None:
        if reply.trickle:
            self.wfile.flush()
            self._trickle(body)
        elif reply.chunked:
            for start in range(0, len(body), 7):
                piece = body[start : start + 7]
                self.wfile.write(f"{len(piece):X}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def _trickle(self, body: bytes) -> None:
        """Send the body a byte at a time, slowly, until the client leaves or the sandbox stops; never all of it."""
        stopping: threading.Event = getattr(self.server, "stopping", threading.Event())
        self.close_connection = True
        for byte in body[:-1]:
            if stopping.wait(0.5):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
        self._wait_for_client_to_leave()

    def _wait_for_client_to_leave(self) -> None:
        """Hold the connection open and silent until the client closes it or the sandbox stops."""
        stopping: threading.Event = getattr(self.server, "stopping", threading.Event())
        while not stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return
                # The client sent more (a pipelined request): read it so the wait goes on.
                self.connection.recv(65536)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401 - stdlib signature
        """Stay quiet: the gate reports what matters."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of creates from a client's pool overflows it, and
    # Linux then resets the connections it could not queue.
    request_queue_size = 128
    # Set when the sandbox stops, so that replies held back forever end with it.
    stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ANN401 - stdlib signature
        """Stay quiet when a client hangs up early (the gate stops reading huge bodies); report the rest."""
        if isinstance(sys.exception(), ConnectionError):
            return
        super().handle_error(request, client_address)


class Sandbox:
    """Runs a CheckoutApi on 127.0.0.1 in a background thread."""

    def __init__(self, api: CheckoutApi | None = None, port: int = 0) -> None:
        self.api = api or CheckoutApi(api_key=f"sk_test_{secrets.token_hex(16)}", sessions=seeded_sessions())
        self._server = _Server(("127.0.0.1", port), type("Handler", (_Handler,), {"api": self.api}))
        self._server.stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where the sandbox listens."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_key(self) -> str:
        """The key the sandbox accepts."""
        return self.api.api_key

    @property
    def checkout_ids(self) -> list[str]:
        """The ids of the seeded sessions (not of those created since)."""
        return list(self.api.seeded_ids)

    @property
    def product_ids(self) -> list[str]:
        """The ids of the products a cart may hold."""
        return list(self.api.products)

    def start(self) -> Self:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
