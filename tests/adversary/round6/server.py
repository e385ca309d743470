"""Round-6 adversary: a stdlib reference server for GET/POST /checkouts and one-behaviour variants.

Only 127.0.0.1. VARIANT selects one override (see variants.py); "reference" is the baseline.
"""
from __future__ import annotations

import gzip
import json
import random
import re
import string
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

KEY = "sk_test_adv6_Q7m2Lx9Pz4Rt8Kw1"
PRODUCT = "pdt_adv6TestProduct0001"
V = "reference"

SEEDS = {
    "cks_a6Nq2XbT7pLr4Kz9Wm1Hd": {
        "id": "cks_a6Nq2XbT7pLr4Kz9Wm1Hd",
        "created_at": "2026-11-23T14:05:17.482Z",
        "customer_email": "ana.lopez@example.com",
        "customer_name": "Ana López",
        "payment_id": "pay_5Rk8Vn2Qw7Zx1Bc4Md9Lp",
        "payment_status": "succeeded",
    },
    "cks_b6Yh3CdF8sGt5Jq0Ev2Nu": {
        "id": "cks_b6Yh3CdF8sGt5Jq0Ev2Nu",
        "created_at": "2026-11-28T21:44:02Z",
        "customer_email": None,
        "customer_name": None,
        "payment_id": None,
        "payment_status": None,
    },
    "cks_c6Rw4EaK9uHy6Lm3Ts7Pf": {
        "id": "cks_c6Rw4EaK9uHy6Lm3Ts7Pf",
        "created_at": "2026-12-01T08:15:59.100+00:00",
        "customer_email": "buyer@example.org",
        "customer_name": "Kenji Watanabe",
        "payment_id": "pay_7Tg2Hs5Wq1Yc8Ne3Jx6Kd",
        "payment_status": "requires_customer_action",
    },
}
SESSIONS: dict = {k: dict(v) for k, v in SEEDS.items()}
CREATED: dict = {}  # id -> monotonic creation time
LOCK = threading.Lock()
COUNTER = [0]
INFLIGHT = [0]
CACHE: dict = {}
SHARED = {"body": b""}
RATE: list = []
CONN_LAST: dict = {}


def new_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "cks_" + "".join(random.choice(alphabet) for _ in range(21))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def err(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


def render(rec: dict, created: bool) -> dict:
    d = dict(rec)
    if V == "created_at_naive":
        d["created_at"] = d["created_at"][:19]
    if V == "created_at_naive_created_only" and created:
        d["created_at"] = d["created_at"][:19]
    if V == "created_at_epoch":
        d["created_at"] = int(datetime.fromisoformat(d["created_at"].replace("Z", "+00:00")).timestamp())
    if V == "created_at_swapped_fmt":
        dt = datetime.fromisoformat(d["created_at"].replace("Z", "+00:00"))
        d["created_at"] = dt.strftime("%Y-%d-%mT%H:%M:%SZ")
    if V == "status_enum_name" and d.get("payment_status"):
        d["payment_status"] = "IntentStatus." + d["payment_status"].upper()
    if V == "status_null_string" and d.get("payment_status") is None:
        d["payment_status"] = "null"
    if V == "payment_id_none_string" and d.get("payment_id") is None:
        d["payment_id"] = "None"
    if V == "status_without_payment" and d.get("payment_id") is None:
        d["payment_status"] = "succeeded"
    if V == "missing_created_at_created" and created:
        d.pop("created_at", None)
    if V == "payment_id_integer" and d.get("payment_id"):
        d["payment_id"] = 48213
    if V == "omit_nulls":
        d = {k: v for k, v in d.items() if v is not None}
    if V == "extra_fields":
        d["object"] = "checkout_session"
        d["metadata"] = {"nested": [1, 2.5, None, {"deep": True}]}
        d["livemode"] = False
        d["expires_at"] = None
        d["line_items"] = []
    if V == "ts_offset_nanos":
        d["created_at"] = "2026-11-23T19:35:17.482913571+05:30"
    if V == "ts_lowercase":
        d["created_at"] = "2026-11-23t14:05:17.482z"
    if V == "ts_leap_second":
        d["created_at"] = "2016-12-31T23:59:60Z"
    if V == "unicode_customer" and True:
        d["customer_name"] = "\u0645\u062d\u0645\u062f \U0001F600 Zo\u00eb \u00d8rsted"
        d["customer_email"] = "\u7528\u6237@\u4f8b\u5b50.\u6d4b\u8bd5"
    return d


def dumps(d) -> bytes:
    if V == "nan_in_json" and isinstance(d, dict) and d.get("customer_name") is None and "id" in d:
        d = dict(d)
        d["customer_name"] = float("nan")
        return json.dumps(d).encode()
    if V == "unicode_escapes" and isinstance(d, dict):
        items = sorted(d.items(), reverse=True)
        parts = []
        for k, v in items:
            ks = "".join("\\u%04x" % ord(c) if c in "_" else c for c in k)
            if isinstance(v, str):
                vs = '"' + "".join("\\u%04x" % ord(c) if not c.isalnum() or ord(c) > 127 else c for c in v) + '"'
            else:
                vs = json.dumps(v)
            parts.append('\n\t "%s"\t:\r\n %s' % (ks, vs))
        return ("{" + " ,".join(parts) + "\n}\n").encode()
    body = json.dumps(d).encode()
    if V == "double_encoded" and isinstance(d, dict) and "id" in d:
        body = json.dumps(body.decode()).encode()
    if V == "envelope" and isinstance(d, dict) and "id" in d:
        body = json.dumps({"data": d}).encode()
    return body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "adv6"

    def log_message(self, *a):  # quiet
        pass

    def setup(self):
        super().setup()
        if V == "idle_close":
            self.request.settimeout(0.3)

    # ---- response writer with framing variants ----
    def send(self, status, body=None, headers=None, head=False, reason=None):
        headers = dict(headers or {})
        body = body if body is not None else b""
        is_json = headers.get("Content-Type", "").startswith("application/json")
        if V == "content_type_html" and status == 200 and is_json:
            headers["Content-Type"] = "text/html; charset=utf-8"
        if V == "no_content_type" and status == 200:
            headers.pop("Content-Type", None)
        if V == "trailing_garbage" and status == 200 and body:
            body = body + b"\n<!-- edge cache: HIT pop=fra1 -->"
        if V == "gzip" and body and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        if V == "weird_reason_headers":
            reason = {200: "Fine", 404: "Nope", 401: "Who Are You"}.get(status, "")
            if "Content-Type" in headers:
                headers["content-TYPE"] = "Application/JSON; Charset=UTF-8" if is_json else headers["Content-Type"]
                del headers["Content-Type"]
        if V == "early_hints":
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        if reason is None:
            reason = self.responses.get(status, ("",))[0]
        lines = ["HTTP/1.1 %d %s" % (status, reason)]
        lines.append("Date: " + self.date_time_string())
        lines.append("Server: adv6")
        close = V == "conn_close"
        chunked = V == "chunked" or (V == "bad_chunked" and status == 200)
        for k, v in headers.items():
            lines.append("%s: %s" % (k, v))
        if status in (204, 304) or 100 <= status < 200:
            pass
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
        else:
            n = len(body)
            if V == "cl_short" and status == 200:
                n = len(body) - 7
            if V == "cl_long" and status == 200:
                n = len(body) + 40
            lines.append("Content-Length: %d" % n)
            if V == "dup_content_length" and status == 200:
                lines.append("Content-Length: %d" % (n + 3))
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        if V == "header_injection":
            raw = raw  # injection happens via X-Checkout-Id below (already in headers)
        if head and V != "head_with_body":
            payload = b""
        elif status in (204, 304):
            payload = b""
        elif chunked:
            if V == "bad_chunked":
                payload = b"%x\r\n" % (len(body) + 10) + body + b"\r\n0\r\n\r\n"
            else:
                mid = len(body) // 2
                payload = b""
                for part in (body[:mid], body[mid:]):
                    if part:
                        payload += b"%x\r\n" % len(part) + part + b"\r\n"
                payload += b"0\r\n\r\n"
        else:
            payload = body
        out = raw + payload
        if V == "keepalive_desync":
            key = id(self.connection)
            prev = CONN_LAST.get(key)
            CONN_LAST[key] = out
            if prev is not None:
                out = prev
        self.wfile.write(out)
        self.wfile.flush()
        if V == "cl_long" and status == 200:
            time.sleep(2)
            self.close_connection = True

    def json(self, status, obj_or_bytes, head=False, extra=None):
        body = obj_or_bytes if isinstance(obj_or_bytes, bytes) else dumps(obj_or_bytes)
        h = {"Content-Type": "application/json"}
        h.update(extra or {})
        self.send(status, body, h, head=head)

    # ---- auth ----
    def authed(self) -> bool:
        h = self.headers.get("Authorization")
        if V == "no_key_500" and h is None:
            raise AttributeError("'NoneType' object has no attribute 'split'")
        if h is None:
            return False
        parts = h.split(" ", 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return False
        token = parts[1]
        if V == "any_bearer":
            return bool(token.strip())
        if V == "key_prefix":
            return KEY.startswith(token.strip())
        return token == KEY

    def deny(self, head=False):
        if V == "errors_422_403":
            return self.json(403, err("FORBIDDEN", "Invalid API key"), head=head)
        return self.json(401, err("UNAUTHORIZED", "Missing or invalid API key"), head=head)

    # ---- dispatch ----
    def guard(self, fn, *a):
        with LOCK:
            COUNTER[0] += 1
            n = COUNTER[0]
            INFLIGHT[0] += 1
            inflight = INFLIGHT[0]
        try:
            if V == "slow":
                time.sleep(0.3)
            if V == "rate_limit_retry" and n % 9 == 0:
                return self.json(429, err("RATE_LIMITED", "Too many requests"), head=self.command == "HEAD", extra={"Retry-After": "1"})
            if V == "concurrent_503" and inflight > 1:
                return self.send(503, b"<html><body>503 Service Temporarily Unavailable</body></html>", {"Content-Type": "text/html"}, head=self.command == "HEAD")
            if V == "rate_limit_200":
                t = time.monotonic()
                with LOCK:
                    RATE[:] = [x for x in RATE if t - x < 5] + [t]
                    over = len(RATE) > 20
                if over:
                    return self.json(200, err("RATE_LIMITED", "Slow down"), head=self.command == "HEAD")
            return fn(*a)
        except Exception as e:  # noqa: BLE001
            body = ("Internal Server Error: %r" % e).encode()
            try:
                self.send(500, body, {"Content-Type": "text/plain"}, head=self.command == "HEAD")
            except Exception:  # noqa: BLE001
                pass
        finally:
            with LOCK:
                INFLIGHT[0] -= 1

    def do_GET(self):
        self.guard(self.get, False)

    def do_HEAD(self):
        if V == "head_405":
            return self.guard(self.send, 405, b"", {"Allow": "GET"}, True)
        self.guard(self.get, True)

    def do_OPTIONS(self):
        self.guard(self.options)

    def do_POST(self):
        self.guard(self.post)

    def other(self):
        self.guard(self.json, 405, err("METHOD_NOT_ALLOWED", "Method not allowed"), False, {"Allow": "GET, OPTIONS" if self.path.count("/") > 1 else "POST"})

    do_PUT = do_PATCH = do_DELETE = other

    def options(self):
        if V == "head_405":
            return self.send(405, b"", {"Allow": "GET"})
        parts = urlsplit(self.path)
        if V == "options_leaks_body" and parts.path.startswith("/checkouts/"):
            sid = unquote(parts.path[len("/checkouts/"):])
            rec = SESSIONS.get(sid)
            if rec:
                return self.json(200, render(rec, sid in CREATED), extra={"Access-Control-Allow-Origin": "*"})
        self.send(204, None, {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        })

    def route(self):
        """Return (session id or None, auth_required) for a GET path."""
        parts = urlsplit(self.path)
        path = parts.path
        if V == "query_500" and parts.query:
            raise KeyError(parts.query)
        bypass = False
        if V == "auth_bypass_trailing_slash" and path.startswith("/checkouts/") and path.endswith("/") and len(path) > 12:
            path = path.rstrip("/")
            bypass = True
        if V == "auth_bypass_path_case" and path.lower().startswith("/checkouts/") and not path.startswith("/checkouts/"):
            path = "/checkouts/" + path[len("/checkouts/"):]
            bypass = True
        if V == "auth_bypass_double_slash" and re.match(r"^/+checkouts/+", path) and not re.match(r"^/checkouts/[^/]", path):
            path = re.sub(r"^/+checkouts/+", "/checkouts/", path)
            bypass = True
        if V == "trailing_slash_redirect" and path.startswith("/checkouts/") and path.endswith("/") and len(path) > 12:
            return ("REDIRECT", path.rstrip("/")), True
        if not path.startswith("/checkouts/"):
            return None, True
        raw = path[len("/checkouts/"):]
        if "/" in raw or raw == "":
            return None, True
        return unquote(raw, errors="strict"), not bypass

    def lookup(self, sid):
        if V == "case_insensitive_id":
            for k, rec in SESSIONS.items():
                if k.lower() == sid.lower():
                    return k, rec
            return None, None
        if V == "prefix_match_id" and len(sid) >= 4:
            for k, rec in SESSIONS.items():
                if k.startswith(sid):
                    return k, rec
            return None, None
        if V == "like_wildcard":
            pat = "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in sid) + "$"
            for k, rec in SESSIONS.items():
                if re.match(pat, k, re.S):
                    return k, rec
            return None, None
        if V == "trim_id":
            sid = sid.strip()
        rec = SESSIONS.get(sid)
        return (sid, rec) if rec else (None, None)

    def get(self, head):
        try:
            sid, need_auth = self.route()
        except UnicodeDecodeError:
            sid, need_auth = "\ufffd", True
        if isinstance(sid, tuple) and sid[0] == "REDIRECT":
            return self.send(308, b"", {"Location": sid[1]}, head=head)
        extra = {}
        if V == "header_injection" and sid is not None:
            extra["X-Checkout-Id"] = sid
        ok = self.authed()
        if V == "head_no_auth" and head:
            need_auth = False
        if V == "created_visible_no_auth" and sid in CREATED:
            need_auth = False
        # caching layers in front of the handler
        if V == "cache_ignores_auth" and self.path in CACHE:
            return self.json(200, CACHE[self.path], head=head, extra={"X-Cache": "HIT", "Age": "3"})
        ck = (self.path, self.headers.get("Authorization") is not None)
        if V == "cache_key_auth_presence" and ck in CACHE:
            return self.json(200, CACHE[ck], head=head, extra={"X-Cache": "HIT", "Age": "3"})
        if V == "exists_oracle" and not ok and need_auth and sid is not None and self.lookup(sid)[1] is None:
            return self.json(404, err("NOT_FOUND", "Checkout session not found"), head=head)
        if need_auth and not ok:
            return self.deny(head)
        if sid is None:
            return self.json(404, err("NOT_FOUND", "Not found"), head=head, extra=extra)
        if V == "weird_id_500" and re.search(r"[^A-Za-z0-9_]", sid):
            raise ValueError("invalid input syntax for type text: %r" % sid)
        if V == "long_id_500" and len(sid) > 64:
            raise ValueError("value too long for type character varying(64)")
        if V == "errors_422_403" and not re.fullmatch(r"cks_[A-Za-z0-9]{1,64}", sid):
            return self.json(422, err("INVALID_REQUEST", "id is malformed"), head=head)
        key, rec = self.lookup(sid)
        if rec is not None and key in CREATED:
            age = time.monotonic() - CREATED[key]
            if V == "post_unreadable" or (V == "post_lag" and age < 3):
                rec = None
        if rec is None:
            if V == "traceback_leak":
                tb = ("Traceback (most recent call last):\n  File \"/srv/app/checkouts.py\", line 88, in get\n"
                      "    row = db.fetch_one(\"SELECT * FROM checkout_sessions WHERE id = '%s'\" % sid)\n"
                      "sqlalchemy.exc.NoResultFound: No row was found "
                      "(postgresql://dodo_app:Pr0dPassw0rd!@db-primary.internal:5432/payments)\n")
                return self.send(404, tb.encode(), {"Content-Type": "text/plain"}, head=head)
            if V == "errors_422_403":
                return self.send(404, b"", {"Content-Type": "text/plain"}, head=head)
            return self.json(404, err("NOT_FOUND", "Checkout session not found"), head=head, extra=extra)
        d = render(rec, key in CREATED)
        if V == "accept_negotiation" and "application/json" not in (self.headers.get("Accept") or ""):
            html = "<html><body><h1>Checkout %s</h1></body></html>" % key
            return self.send(200, html.encode(), {"Content-Type": "text/html"}, head=head)
        if V == "cache_control_public":
            extra["Cache-Control"] = "public, max-age=86400"
        if V == "etag_constant_304":
            extra["ETag"] = 'W/"v1"'
            if self.headers.get("If-None-Match") == 'W/"v1"':
                return self.send(304, None, {"ETag": 'W/"v1"'}, head=head)
        body = dumps(d)
        if V == "concurrent_swap":
            SHARED["body"] = body
            time.sleep(0.05)
            body = SHARED["body"]
        if V == "cache_ignores_auth":
            CACHE[self.path] = body
        if V == "cache_key_auth_presence":
            CACHE[ck] = body
        return self.json(200, body, head=head, extra=extra)

    def post(self):
        parts = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if parts.path.rstrip("/") != "/checkouts":
            return self.json(404, err("NOT_FOUND", "Not found"))
        if not self.authed() and V != "post_no_auth":
            return self.deny()
        try:
            body = json.loads(raw or b"null")
            cart = body["product_cart"]
            assert isinstance(cart, list) and cart
            for item in cart:
                assert isinstance(item, dict)
                assert isinstance(item.get("product_id"), str)
                q = item.get("quantity")
                assert isinstance(q, int) and not isinstance(q, bool) and q >= 1
                if V != "post_any_product":
                    assert item["product_id"] == PRODUCT
        except Exception as e:  # noqa: BLE001
            if V == "post_500_invalid":
                raise
            if V != "post_any_product":
                return self.json(422, err("INVALID_REQUEST", "Invalid request body: %s" % type(e).__name__))
        sid = new_id()
        rec = {"id": sid, "created_at": now_iso(), "customer_email": None, "customer_name": None,
               "payment_id": None, "payment_status": None}
        with LOCK:
            SESSIONS[sid] = rec
            CREATED[sid] = time.monotonic()
        resp = {"session_id": sid, "checkout_url": "https://test.checkout.dodopayments.com/session/" + sid}
        if V == "post_201":
            return self.json(201, resp, extra={"Location": "/checkouts/" + sid})
        return self.json(200, resp)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make(variant: str):
    global V
    V = variant
    srv = Server(("127.0.0.1", 0), Handler)
    return srv
