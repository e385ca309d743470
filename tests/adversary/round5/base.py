"""Correct reference server for GET /checkouts/{id} and POST /checkouts (stdlib only).

Variants subclass Handler and override one hook.  Run: python3 serve.py VARIANT
"""
import json, random, string, sys, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

KEY_SUFFIX = "7Hq2Lm9XvR4tK8pN3wZ6bY1c"
KEY = "sk_test_" + KEY_SUFFIX
LIVE_KEY = "sk_live_" + KEY_SUFFIX
PRODUCT = "pdt_Vb3kR9qLm2XwT7pZ4nHc8"
REASONS = {200: "OK", 204: "No Content", 304: "Not Modified", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error"}

def _rid(prefix, n=21):
    rnd = random.SystemRandom()
    return prefix + "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))

def ts(dt):  # RFC 3339, UTC, millis
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"

# seeded sessions: (row number, record)
SEED = [
    {"id": "cks_n010SZaY4NXc7F1ck3Tq1", "created_at": datetime(2026, 12, 7, 21, 4, 11, 312000, timezone.utc),
     "customer_email": "ana.silva@example.com", "customer_name": "Ana Silva",
     "payment_id": "pay_Q8mT2vXk9LpR4zN7cW1hB", "payment_status": "succeeded"},
    {"id": "cks_Tm4qW8zR2kLp9XvN3bY7c", "created_at": datetime(2026, 12, 7, 22, 30, 0, 5000, timezone.utc),
     "customer_email": None, "customer_name": None, "payment_id": None, "payment_status": None},
    {"id": "cks_aB3dE5fG7hJ9kL1mN2pQ4", "created_at": datetime(2026, 12, 6, 9, 15, 42, 0, timezone.utc),
     "customer_email": "j.okafor@example.org", "customer_name": "José Okafor",
     "payment_id": "pay_Zx7Yw6Vu5Ts4Rq3Po2Nm1", "payment_status": "requires_customer_action"},
]


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows = [dict(r, rowid=i + 1, visible_at=0.0) for i, r in enumerate(SEED)]

    def all(self):
        with self.lock:
            return list(self.rows)

    def add(self, rec):
        with self.lock:
            rec["rowid"] = len(self.rows) + 1
            self.rows.append(rec)


STORE = Store()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "checkout-api/1.0"
    sys_version = ""
    visibility_delay = 0.0       # seconds before a created session is readable
    counter = [0]
    counter_lock = threading.Lock()

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---------- framing ----------
    def status_line(self, code):
        return f"HTTP/1.1 {code} {REASONS.get(code, 'Unknown')}\r\n"

    def serialize(self, obj):
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")

    def content_type(self):
        return "application/json"

    def extra_headers(self):
        return []

    def frame(self, code, headers, body):
        head = self.status_line(code)
        for k, v in headers:
            head += f"{k}: {v}\r\n"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        return head.encode("latin-1") + b"\r\n" + (body or b"")

    def send(self, code, obj=None, headers=None, raw_body=None):
        hdrs = [("Date", self.date_time_string()), ("Server", self.server_version)]
        body = raw_body
        if obj is not None and body is None:
            body = self.serialize(obj)
        if body is not None and not any(k.lower() == "content-type" for k, _ in (headers or [])):
            hdrs.append(("Content-Type", self.content_type()))
        hdrs += (headers or []) + self.extra_headers()
        if code in (204, 304) or self.command == "HEAD":
            data = self.frame(code, hdrs + ([("Content-Length", str(len(body)))] if body and self.command == "HEAD" else []), None)
        else:
            data = self.frame(code, hdrs, body if body is not None else b"")
        if any(k.lower() == "connection" and v.lower() == "close" for k, v in hdrs):
            self.close_connection = True
        self.wfile.write(data)
        self.wfile.flush()
        self.after_send(code)

    def after_send(self, code):
        pass

    def error(self, code, ecode, message, headers=None):
        self.send(code, {"code": ecode, "message": message}, headers)

    # ---------- auth ----------
    def bearer(self):
        h = self.headers.get("Authorization")
        if h is None:
            return None
        parts = h.strip().split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None
        return parts[1].strip()

    def key_ok(self, key):
        return key == KEY

    def auth_fail(self):
        self.error(401, "UNAUTHORIZED", "Missing or invalid API key", [("WWW-Authenticate", 'Bearer realm="api"')])

    def authorized(self):
        return self.key_ok(self.bearer())

    # ---------- routing / lookup ----------
    def split(self):
        u = urlsplit(self.path)
        return u.path, u.query

    def route_id(self, path):
        """Return the raw id segment for /checkouts/{id}, or None."""
        if not path.startswith("/checkouts/"):
            return None
        seg = path[len("/checkouts/"):]
        if seg == "" or "/" in seg:
            return None
        return unquote(seg)

    def find(self, cid):
        for r in STORE.all():
            if r["id"] == cid:
                return r
        return None

    def lookup(self, cid):
        r = self.find(cid)
        if r is not None and time.time() < r["visible_at"]:
            return None
        return r

    def render(self, r):
        return {"id": r["id"], "created_at": ts(r["created_at"]), "customer_email": r["customer_email"],
                "customer_name": r["customer_name"], "payment_id": r["payment_id"],
                "payment_status": r["payment_status"]}

    # ---------- handlers ----------
    def tick(self):
        with self.counter_lock:
            self.counter[0] += 1
            return self.counter[0]

    def pre(self):
        """Hook run before any request handling; return True if it answered."""
        return False

    def do_GET(self):
        self.tick()
        if self.pre():
            return
        path, _ = self.split()
        if path.rstrip("/") == "/checkouts":
            return self.error(405, "METHOD_NOT_ALLOWED", "Method not allowed", [("Allow", "POST, OPTIONS")])
        cid = self.route_id(path)
        if cid is None:
            return self.error(404, "NOT_FOUND", "Not found")
        self.get_checkout(cid)

    def get_checkout(self, cid):
        if not self.authorized():
            return self.auth_fail()
        r = self.lookup(cid)
        if r is None:
            return self.not_found(cid)
        self.send(200, self.render(r))

    def not_found(self, cid):
        self.error(404, "NOT_FOUND", "Checkout session not found")

    do_HEAD = do_GET

    def do_OPTIONS(self):
        self.tick()
        self.send(204, None, [("Access-Control-Allow-Origin", "*"),
                              ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
                              ("Access-Control-Allow-Headers", "Authorization, Content-Type")])

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        self.tick()
        raw = self.read_body()
        if self.pre():
            return
        path, _ = self.split()
        if path.rstrip("/") != "/checkouts":
            return self.error(405 if self.route_id(path) else 404, "NOT_FOUND", "Not found")
        if not self.post_authorized():
            return self.auth_fail()
        try:
            body = json.loads(raw)
            cart = body["product_cart"]
            assert isinstance(cart, list) and cart
            for item in cart:
                assert isinstance(item["product_id"], str)
                assert isinstance(item["quantity"], int) and item["quantity"] >= 1
        except Exception:
            return self.error(422, "INVALID_REQUEST", "product_cart must be a non-empty list of {product_id, quantity}")
        if any(item["product_id"] != PRODUCT for item in cart):
            return self.error(404, "PRODUCT_NOT_FOUND", "Product not found")
        rec = self.new_session()
        STORE.add(rec)
        self.send(200, {"session_id": rec["id"],
                        "checkout_url": "https://test.checkout.dodopayments.com/session/" + rec["id"]})

    def post_authorized(self):
        return self.authorized()

    def new_session(self):
        return {"id": _rid("cks_"), "created_at": datetime.now(timezone.utc), "customer_email": None,
                "customer_name": None, "payment_id": None, "payment_status": None,
                "visible_at": time.time() + self.visibility_delay}

    def other(self):
        self.tick()
        self.read_body()
        self.error(405, "METHOD_NOT_ALLOWED", "Method not allowed")

    do_PUT = do_PATCH = do_DELETE = other


def serve(handler_cls):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    srv.daemon_threads = True
    print(f"PORT {srv.server_address[1]}", flush=True)
    print(f"KEY {KEY}", flush=True)
    print(f"PRODUCT {PRODUCT}", flush=True)
    print("IDS " + ",".join(r["id"] for r in SEED), flush=True)
    srv.serve_forever()
