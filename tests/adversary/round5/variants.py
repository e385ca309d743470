"""Variants: each overrides one behaviour of base.Handler.

VARIANTS[name] = (class, infra_class, expected 'fault'|'valid', one-line reason)
"""
import gzip, json, re, threading, time
from datetime import timedelta, timezone
from urllib.parse import unquote, urlsplit

import base
from base import Handler, KEY, LIVE_KEY, STORE, ts

VARIANTS = {}

def v(name, infra, expected, reason):
    def deco(cls):
        VARIANTS[name] = (cls, infra, expected, reason)
        return cls
    return deco

v("reference", "-", "valid", "correct reference implementation")(Handler)

# ======================= CDN and caches =======================
class _Cache(Handler):
    cache = {}
    cache_lock = threading.Lock()
    ttl = 60
    def cache_key(self):
        return self.path
    def cacheable(self, code):
        return code == 200
    def pre(self):
        if self.command != "GET":
            return False
        with self.cache_lock:
            hit = self.cache.get(self.cache_key())
        if hit and time.time() - hit[0] < self.ttl:
            code, body = hit[1], hit[2]
            self.send(code, raw_body=body, headers=[("Age", str(int(time.time() - hit[0]))), ("X-Cache", "HIT")])
            return True
        return False
    def send(self, code, obj=None, headers=None, raw_body=None):
        if self.command == "GET" and self.cacheable(code) and not (headers and ("X-Cache", "HIT") in headers):
            body = raw_body if raw_body is not None else self.serialize(obj)
            with self.cache_lock:
                self.cache[self.cache_key()] = (time.time(), code, body)
            return super().send(code, headers=headers, raw_body=body)
        return super().send(code, obj, headers, raw_body)

@v("cdn_key_path_only", "CDN/cache", "fault",
   "edge cache keyed on URL only (Authorization not in key): a cached 200 is served to keyless/wrong-key clients")
class CdnPathOnly(_Cache):
    cache = {}

@v("cdn_vary_presence", "CDN/cache", "fault",
   "cache varies on presence of Authorization, not its value: any wrong key gets the cached 200")
class CdnVaryPresence(_Cache):
    cache = {}
    def cache_key(self):
        return (self.path, "Authorization" in self.headers)

@v("cdn_route_template_key", "CDN/cache", "fault",
   "cache key built from the route template /checkouts/:id: every id gets the last cached session")
class CdnTemplate(_Cache):
    cache = {}
    ttl = 30
    def cache_key(self):
        return "/checkouts/:id" if self.path.startswith("/checkouts/") else self.path
    def pre(self):  # auth is enforced at the edge before the cache
        if self.command == "GET" and not self.authorized():
            self.auth_fail(); return True
        return super().pre()

@v("cdn_caches_errors", "CDN/cache", "fault",
   "CDN caches 401/404 by URL for 60 s and serves them to everyone (an authorised read gets a cached 401)")
class CdnErrors(_Cache):
    cache = {}
    def cacheable(self, code):
        return code in (401, 404)

@v("cdn_negative_cache_after_create", "CDN/cache", "fault",
   "origin has 300 ms replica lag; the CDN negative-caches the first 404 for 60 s, so a created session stays 404")
class CdnNegative(_Cache):
    cache = {}
    visibility_delay = 0.3
    def cacheable(self, code):
        return code == 404

@v("cdn_304_unconditional", "CDN/cache", "fault",
   "proxy answers 304 Not Modified to a repeated GET of the same URL even without If-None-Match")
class Cdn304(Handler):
    seen = {}
    def pre(self):
        if self.command == "GET" and self.path in self.seen and time.time() - self.seen[self.path] < 60:
            self.send(304, headers=[("ETag", '"v1"')]); return True
        return False
    def send(self, code, obj=None, headers=None, raw_body=None):
        if self.command == "GET" and code == 200:
            self.seen[self.path] = time.time()
        return super().send(code, obj, headers, raw_body)

@v("cdn_casefold_key", "CDN/cache", "fault",
   "CDN normalises the cache key to lower case: /checkouts/CKS_X is served the cached body of cks_x (or vice versa)")
class CdnCasefold(_Cache):
    cache = {}
    def cache_key(self):
        return (self.path.lower(), self.headers.get("Authorization"))

# ======================= API gateway / auth =======================
@v("auth_prefix_match", "gateway/auth", "fault", "gateway compares only the first 12 characters of the key")
class AuthPrefix(Handler):
    def key_ok(self, key):
        return key is not None and key[:12] == KEY[:12]

@v("auth_format_only", "gateway/auth", "fault",
   "gateway validates key shape (sk_test_/sk_live_ + 24 alnum) but never looks it up")
class AuthFormat(Handler):
    def key_ok(self, key):
        return key is not None and re.fullmatch(r"sk_(test|live)_[A-Za-z0-9]{24}", key) is not None

@v("auth_other_mode_key", "gateway/auth", "fault", "key lookup ignores the mode prefix: the live key reads test data")
class AuthOtherMode(Handler):
    def key_ok(self, key):
        return key in (KEY, LIVE_KEY)

@v("auth_any_header", "gateway/auth", "fault",
   "auth middleware only checks that an Authorization header is present")
class AuthAny(Handler):
    def authorized(self):
        return "Authorization" in self.headers

@v("auth_key_case_insensitive", "gateway/auth", "fault",
   "keys stored in a case-insensitive column: a key differing only in case is accepted")
class AuthCase(Handler):
    def key_ok(self, key):
        return key is not None and key.lower() == KEY.lower()

@v("auth_substring_dup_header", "gateway/auth", "fault",
   "proxy joins duplicate Authorization headers and the check is `KEY in header` (substring)")
class AuthSubstring(Handler):
    def authorized(self):
        h = ", ".join(self.headers.get_all("Authorization") or [])
        return KEY in h

@v("auth_skip_trailing_slash", "gateway/auth", "fault",
   "auth middleware matches /checkouts/{id} exactly; the router also serves /checkouts/{id}/ with no auth")
class AuthTrailing(Handler):
    def get_checkout(self, cid):
        if self.split()[0].endswith("/"):
            r = self.lookup(cid)
            return self.send(200, self.render(r)) if r else self.not_found(cid)
        return super().get_checkout(cid)
    def route_id(self, path):
        if path.startswith("/checkouts/") and path.endswith("/") and path.count("/") == 3:
            return unquote(path[len("/checkouts/"):-1])
        return super().route_id(path)

@v("auth_skip_head", "gateway/auth", "fault",
   "gateway only authenticates GET/POST; HEAD falls through and reveals which ids exist")
class AuthHead(Handler):
    def authorized(self):
        return self.command == "HEAD" or super().authorized()

@v("auth_after_routing", "gateway/auth", "fault",
   "auth checked after the lookup: keyless unknown id -> 404, keyless known id -> 401 (existence oracle)")
class AuthAfter(Handler):
    def get_checkout(self, cid):
        r = self.lookup(cid)
        if r is None:
            return self.not_found(cid)
        if not self.authorized():
            return self.auth_fail()
        self.send(200, self.render(r))

@v("auth_error_discloses", "gateway/auth", "fault",
   "401 error body embeds the requested resource (debug error handler serialises the loaded object)")
class AuthDisclose(Handler):
    def get_checkout(self, cid):
        r = self.lookup(cid)
        if not self.authorized():
            return self.send(401, {"code": "UNAUTHORIZED", "message": "Invalid API key",
                                   "resource": self.render(r) if r else None})
        if r is None:
            return self.not_found(cid)
        self.send(200, self.render(r))

@v("auth_keyless_post", "gateway/auth", "fault", "POST /checkouts route registered outside the auth middleware")
class AuthKeylessPost(Handler):
    def post_authorized(self):
        return True

# ======================= ORM / id lookups =======================
class _Lookup(Handler):
    def match(self, r, cid):
        return r["id"] == cid
    def find(self, cid):
        for r in STORE.all():
            if self.match(r, cid):
                return r
        return None

@v("orm_case_insensitive", "ORM/lookup", "fault", "MySQL *_ci collation: ids compared case-insensitively")
class OrmCI(_Lookup):
    def match(self, r, cid):
        return r["id"].lower() == cid.lower()

@v("orm_like_wildcard", "ORM/lookup", "fault", "lookup uses WHERE id LIKE ? without escaping % and _")
class OrmLike(_Lookup):
    def match(self, r, cid):
        pat = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in cid)
        return re.fullmatch(pat, r["id"], re.S) is not None

@v("orm_trim", "ORM/lookup", "fault", "id is trimmed (and SQL PAD SPACE ignores trailing blanks) before lookup")
class OrmTrim(_Lookup):
    def match(self, r, cid):
        return r["id"] == cid.strip()

@v("orm_prefix_strip", "ORM/lookup", "fault", "id decoder strips any '<prefix>_' and looks up the bare suffix")
class OrmPrefix(_Lookup):
    def match(self, r, cid):
        return r["id"].split("_", 1)[1] == cid.split("_", 1)[-1]

@v("orm_numeric_rowid", "ORM/lookup", "fault",
   "numeric ids coerced to the integer primary key: /checkouts/1 returns the first row")
class OrmRowid(_Lookup):
    def match(self, r, cid):
        try:
            return r["rowid"] == int(float(cid))
        except ValueError:
            return r["id"] == cid

@v("orm_other_column", "ORM/lookup", "fault", "WHERE id = ? OR payment_id = ?: a payment id returns its session")
class OrmOtherCol(_Lookup):
    def match(self, r, cid):
        return r["id"] == cid or (r["payment_id"] is not None and r["payment_id"] == cid)

@v("router_decodes_slash", "ORM/lookup", "fault",
   "router percent-decodes the whole path before splitting and binds the first segment: "
   "/checkouts/cks_x%2Fjunk and /checkouts/cks_x/anything return cks_x")
class RouterSlash(Handler):
    def route_id(self, path):
        p = unquote(path)
        if not p.startswith("/checkouts/"):
            return None
        seg = p[len("/checkouts/"):].split("/")[0]
        return seg or None

@v("orm_truncate_25", "ORM/lookup", "fault",
   "id bound to a VARCHAR(25) column in non-strict mode: longer ids are truncated and match")
class OrmTrunc(_Lookup):
    def match(self, r, cid):
        return r["id"] == cid[:25]

# ======================= serializers =======================
@v("ser_no_offset", "serializer", "fault", "naive datetime serialised without offset: 2026-12-07T21:04:11.312")
class SerNoOffset(Handler):
    def render(self, r):
        d = super().render(r); d["created_at"] = r["created_at"].replace(tzinfo=None).isoformat(timespec="milliseconds"); return d

@v("ser_epoch_int", "serializer", "fault", "created_at serialised as Unix epoch seconds (integer)")
class SerEpoch(Handler):
    def render(self, r):
        d = super().render(r); d["created_at"] = int(r["created_at"].timestamp()); return d

@v("ser_omitempty_created", "serializer", "fault",
   "`omitempty` drops created_at for a freshly created session (DB default not read back)")
class SerOmit(Handler):
    def new_session(self):
        rec = super().new_session(); rec["fresh"] = True; return rec
    def render(self, r):
        d = super().render(r)
        if r.get("fresh"):
            del d["created_at"]
        return d

@v("ser_enum_outside", "serializer", "fault",
   "internal status enum leaks: 'requires_action' instead of a spec IntentStatus value")
class SerEnum(Handler):
    def render(self, r):
        d = super().render(r)
        if d["payment_status"] == "requires_customer_action":
            d["payment_status"] = "requires_action"
        return d

@v("ser_zero_values", "serializer", "fault", "Go zero values: nulls serialised as \"\" (payment_status \"\" is not in the enum)")
class SerZero(Handler):
    def render(self, r):
        return {k: ("" if val is None else val) for k, val in super().render(r).items()}

@v("ser_wrapped_data", "serializer", "fault", "response envelope {\"data\": {...}} added by a framework serializer")
class SerWrap(Handler):
    def render(self, r):
        return {"data": super().render(r)}

@v("ser_duplicate_id_key", "serializer", "fault",
   "hand-rolled JSON writer emits \"id\" twice: the session id, then the internal row uuid (last one wins)")
class SerDup(Handler):
    def serialize(self, obj):
        s = super().serialize(obj)
        if isinstance(obj, dict) and "created_at" in obj:
            s = s[:-1] + b', "id": "8d0f6c1e-4b7a-4c11-9a43-0e2f5c7d9b10"}'
        return s

@v("ser_latin1", "serializer", "fault", "body encoded as ISO-8859-1 (\xe9 byte) while served as application/json")
class SerLatin1(Handler):
    def serialize(self, obj):
        return json.dumps(obj, ensure_ascii=False).encode("latin-1", "replace")

@v("ser_bom", "serializer", "fault", "UTF-8 BOM prepended to the JSON body (RFC 8259: MUST NOT)")
class SerBom(Handler):
    def serialize(self, obj):
        return b"\xef\xbb\xbf" + super().serialize(obj)

@v("ser_nan", "serializer", "fault", "extra numeric field written with allow_nan=True: NaN is not JSON")
class SerNan(Handler):
    def render(self, r):
        d = super().render(r); d["amount_due"] = float("nan"); return d

@v("orm_created_paid_defaults", "ORM/lookup", "fault",
   "column defaults create a payment eagerly: a fresh session already has payment_id and requires_payment_method")
class OrmPaid(Handler):
    def new_session(self):
        rec = super().new_session()
        rec["payment_id"] = base._rid("pay_"); rec["payment_status"] = "requires_payment_method"
        return rec

# ======================= HTTP servers / proxies =======================
@v("http_text_html", "HTTP server", "fault", "framework default Content-Type text/html on JSON bodies")
class HttpHtml(Handler):
    def content_type(self):
        return "text/html; charset=utf-8"

@v("http_cl_too_long", "HTTP server", "fault", "Content-Length counts characters+10 then the connection closes early")
class HttpClLong(Handler):
    def frame(self, code, headers, body):
        data = super().frame(code, headers, body)
        if body:
            data = data.replace(f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) + 10}".encode(), 1)
            self.close_connection = True
        return data

@v("http_cl_short", "HTTP server", "fault",
   "Content-Length computed on the str (characters), not the UTF-8 bytes, and minus 3: truncated JSON, leftover bytes")
class HttpClShort(Handler):
    def frame(self, code, headers, body):
        data = super().frame(code, headers, body)
        if body:
            data = data.replace(f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) - 3}".encode(), 1)
        return data

@v("http_chunk_size_decimal", "HTTP server", "fault", "chunk sizes written in decimal instead of hex")
class HttpChunkDec(Handler):
    def frame(self, code, headers, body):
        if not body or self.command == "HEAD":
            return super().frame(code, headers, body)
        head = self.status_line(code) + "".join(f"{k}: {v}\r\n" for k, v in headers) + "Transfer-Encoding: chunked\r\n\r\n"
        return head.encode("latin-1") + f"{len(body)}\r\n".encode() + body + b"\r\n0\r\n\r\n"

@v("http_cl_and_te", "HTTP server", "fault",
   "proxy adds Transfer-Encoding: chunked but keeps the origin's Content-Length (RFC 9112: MUST NOT send both)")
class HttpClTe(Handler):
    def frame(self, code, headers, body):
        if not body or self.command == "HEAD":
            return super().frame(code, headers, body)
        head = self.status_line(code) + "".join(f"{k}: {v}\r\n" for k, v in headers)
        head += f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head.encode("latin-1") + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"

@v("http_1xx_with_body", "HTTP server", "fault", "100 Continue sent with a body (1xx responses cannot have content)")
class Http1xxBody(Handler):
    def frame(self, code, headers, body):
        return b"HTTP/1.1 100 Continue\r\nContent-Length: 7\r\n\r\nwaiting" + super().frame(code, headers, body)

@v("http_soft_404", "HTTP server", "fault", "CDN custom error page: unknown ids answered 200 text/html 'Page not found'")
class HttpSoft404(Handler):
    def not_found(self, cid):
        self.send(200, raw_body=b"<html><body><h1>Page not found</h1></body></html>",
                  headers=[("Content-Type", "text/html")])

@v("http_double_write_404", "HTTP server", "fault",
   "error middleware and handler both write a 404: the next request on the kept-alive connection reads the stale one")
class HttpDouble(Handler):
    def after_send(self, code):
        if code == 404 and not self.close_connection:
            self.wfile.write(self.frame(404, [("Content-Type", "application/json")], b'{"code":"NOT_FOUND","message":"Not found"}'))
            self.wfile.flush()

# ======================= VALID but unusual =======================
@v("valid_extra_headers", "valid", "valid", "extra headers: X-Request-Id, rate-limit headers, HSTS, Cache-Control no-store, Vary")
class VExtraHeaders(Handler):
    def extra_headers(self):
        return [("X-Request-Id", "req_" + base._rid("", 16)), ("X-RateLimit-Limit", "100"), ("X-RateLimit-Remaining", "97"),
                ("Strict-Transport-Security", "max-age=31536000"), ("Cache-Control", "private, no-store"),
                ("Vary", "Authorization, Accept-Encoding"), ("X-Content-Type-Options", "nosniff")]

@v("valid_extra_fields", "valid", "valid", "extra JSON fields the spec does not forbid (no additionalProperties:false)")
class VExtraFields(Handler):
    def render(self, r):
        d = super().render(r)
        d.update({"business_id": "bus_P4kR8mZ2qW6xT1vN9cL3h", "expires_at": ts(r["created_at"] + timedelta(days=1)),
                  "metadata": {"order": "A-1042"}, "product_cart": [{"product_id": base.PRODUCT, "quantity": 1}]})
        return d

@v("valid_gzip", "valid", "valid", "gzip Content-Encoding when the client accepts it")
class VGzip(Handler):
    def send(self, code, obj=None, headers=None, raw_body=None):
        if obj is not None and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            return super().send(code, headers=(headers or []) + [("Content-Type", "application/json"),
                                ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
                                raw_body=gzip.compress(self.serialize(obj)))
        return super().send(code, obj, headers, raw_body)

@v("valid_chunked", "valid", "valid", "correct chunked transfer coding, body split into 3 chunks")
class VChunked(Handler):
    def frame(self, code, headers, body):
        if not body or self.command == "HEAD":
            return super().frame(code, headers, body)
        head = self.status_line(code) + "".join(f"{k}: {v}\r\n" for k, v in headers) + "Transfer-Encoding: chunked\r\n\r\n"
        n = max(1, len(body) // 3); parts = [body[i:i + n] for i in range(0, len(body), n)]
        return head.encode("latin-1") + b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"

@v("valid_ts_offset", "valid", "valid", "created_at with a +05:30 offset and microseconds (RFC 3339 allows both)")
class VTsOffset(Handler):
    def render(self, r):
        d = super().render(r)
        d["created_at"] = r["created_at"].astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(timespec="microseconds")
        return d

@v("valid_ts_lowercase", "valid", "valid", "created_at with lower-case 't' and 'z' (RFC 3339 5.6 NOTE allows them)")
class VTsLower(Handler):
    def render(self, r):
        d = super().render(r); d["created_at"] = d["created_at"].replace("T", "t").replace("Z", "z"); return d

@v("valid_403_wrong_key", "valid", "valid", "401 for a missing key, 403 for a wrong key (spec documents neither)")
class V403(Handler):
    def auth_fail(self):
        if self.bearer() is None:
            return super().auth_fail()
        self.error(403, "FORBIDDEN", "Invalid API key")

@v("valid_slow", "valid", "valid", "1.5 s latency on every 200 (well within the 10 s request timeout)")
class VSlow(Handler):
    def send(self, code, obj=None, headers=None, raw_body=None):
        if code == 200:
            time.sleep(1.5)
        return super().send(code, obj, headers, raw_body)

@v("valid_429_sometimes", "valid", "valid", "every 9th request answered 429 with Retry-After: 1")
class V429(Handler):
    def pre(self):
        if self.counter[0] % 9 == 0:
            self.error(429, "RATE_LIMITED", "Too many requests", [("Retry-After", "1")]); return True
        return False

@v("valid_connection_close", "valid", "valid", "Connection: close on every response (no keep-alive)")
class VClose(Handler):
    def extra_headers(self):
        return [("Connection", "close")]

@v("valid_100_continue", "valid", "valid", "unsolicited 100 Continue before every final response (RFC 9110 15.2)")
class V100(Handler):
    def frame(self, code, headers, body):
        return b"HTTP/1.1 100 Continue\r\n\r\n" + super().frame(code, headers, body)

@v("valid_103_early_hints", "valid", "valid", "CDN sends 103 Early Hints before the final response (RFC 8297; clients MUST parse 1xx)")
class V103(Handler):
    def frame(self, code, headers, body):
        return b"HTTP/1.1 103 Early Hints\r\nLink: </static/app.css>; rel=preload; as=style\r\n\r\n" + super().frame(code, headers, body)

@v("valid_visible_after_600ms", "valid", "valid", "read replica: a created session becomes readable after 0.6 s (SHOULD only)")
class VLag(Handler):
    visibility_delay = 0.6

@v("valid_422_malformed_id", "valid", "valid", "422 (documented) for ids that are not cks_ + 21 alphanumerics; 404 for well-formed unknown ids")
class V422(Handler):
    def get_checkout(self, cid):
        if self.authorized() and not re.fullmatch(r"cks_[A-Za-z0-9]{21}", cid):
            return self.error(422, "INVALID_ID", "Invalid checkout session id")
        return super().get_checkout(cid)

@v("valid_etag_304", "valid", "valid", "ETag on 200 and a correct 304 only when If-None-Match matches")
class VEtag(Handler):
    def send(self, code, obj=None, headers=None, raw_body=None):
        if code == 200 and obj is not None:
            body = self.serialize(obj)
            import hashlib
            tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == tag:
                return super().send(304, headers=[("ETag", tag)])
            return super().send(200, headers=(headers or []) + [("ETag", tag), ("Cache-Control", "private, max-age=0")], raw_body=body)
        return super().send(code, obj, headers, raw_body)

@v("valid_reason_phrases", "valid", "valid", "unusual reason phrases (empty on 200, 'Nope' on 404): clients must ignore them")
class VReason(Handler):
    def status_line(self, code):
        return {200: "HTTP/1.1 200 \r\n", 404: "HTTP/1.1 404 Nope\r\n"}.get(code) or super().status_line(code)

# ======================= second wave (written after round 1 of the first wave) =======================
@v("lb_one_stale_backend", "HTTP proxy/LB", "fault",
   "round-robin over 4 backends, one still on an old build that writes created_at without offset")
class LbStale(Handler):
    def render(self, r):
        d = super().render(r)
        if self.counter[0] % 4 == 0:
            d["created_at"] = r["created_at"].replace(tzinfo=None).isoformat()
        return d

@v("auth_per_connection", "gateway/auth", "fault",
   "proxy authenticates the TCP connection once; later keyless/wrong-key requests on the kept-alive connection pass")
class AuthConn(Handler):
    def authorized(self):
        if getattr(self.server, "_authed", None) is None:
            self.server._authed = set()
        conn = id(self.connection)
        if conn in self.server._authed:
            return True
        ok = super().authorized()
        if ok:
            self.server._authed.add(conn)
        return ok

@v("race_shared_render_buffer", "HTTP server", "fault",
   "handler keeps the record in a module-level variable shared by threads: concurrent reads get another session's body")
class RaceShared(Handler):
    current = [None]
    def render(self, r):
        self.current[0] = r
        time.sleep(0.02)
        return super().render(self.current[0])

@v("ser_created_at_now", "serializer", "fault", "serializer default=now(): created_at changes on every read")
class SerNow(Handler):
    def render(self, r):
        from datetime import datetime
        d = super().render(r); d["created_at"] = ts(datetime.now(timezone.utc)); return d

@v("ser_offset_no_colon", "serializer", "fault", "strftime('%z') offset: 2026-12-07T21:04:11.312+0000 (ISO basic, not RFC 3339)")
class SerNoColon(Handler):
    def render(self, r):
        d = super().render(r); d["created_at"] = d["created_at"][:-1] + "+0000"; return d

@v("auth_anonymous_redacted", "gateway/auth", "fault",
   "bad key falls back to an anonymous principal; field-level auth redacts PII but answers 200 with the session")
class AuthAnon(Handler):
    def get_checkout(self, cid):
        if self.authorized():
            return super().get_checkout(cid)
        r = self.lookup(cid)
        if r is None:
            return self.not_found(cid)
        d = self.render(r); d.update(customer_email=None, customer_name=None)
        self.send(200, d)

@v("auth_401_no_www_authenticate", "gateway/auth", "fault",
   "401 without WWW-Authenticate (RFC 9110 11.6.1 MUST; HTTP-level, not in the OpenAPI)")
class Auth401NoWWW(Handler):
    def auth_fail(self):
        self.error(401, "UNAUTHORIZED", "Missing or invalid API key")

@v("orm_unicode_nfkc", "ORM/lookup", "fault", "id NFKC-normalised before lookup: full-width letters match ASCII ids")
class OrmNfkc(_Lookup):
    def match(self, r, cid):
        import unicodedata
        return r["id"] == unicodedata.normalize("NFKC", cid)

@v("ser_post_internal_id", "serializer", "fault",
   "POST response serialises the internal row uuid as session_id; GET only knows the cks_ id (never found)")
class SerPostId(Handler):
    def send(self, code, obj=None, headers=None, raw_body=None):
        if self.command == "POST" and code == 200 and obj and "session_id" in obj:
            obj = dict(obj, session_id="3f2a9c4e-1b7d-4e0a-8c55-91d2e6f0b7a4")
        return super().send(code, obj, headers, raw_body)

@v("cdn_public_cache_control", "CDN/cache", "fault",
   "origin marks authenticated session reads Cache-Control: public, max-age=3600 (shared caches may store PII)")
class CdnPublic(Handler):
    def send(self, code, obj=None, headers=None, raw_body=None):
        if code == 200:
            headers = (headers or []) + [("Cache-Control", "public, max-age=3600")]
        return super().send(code, obj, headers, raw_body)

@v("valid_charset_param", "valid", "valid", "Content-Type: application/json; charset=utf-8")
class VCharset(Handler):
    def content_type(self):
        return "application/json; charset=utf-8"

@v("valid_errors_plain", "valid", "valid", "404/401 with text/plain bodies (spec describes no error body)")
class VPlain(Handler):
    def error(self, code, ecode, message, headers=None):
        self.send(code, raw_body=message.encode(), headers=(headers or []) + [("Content-Type", "text/plain; charset=utf-8")])

@v("valid_post_no_checkout_url", "valid", "valid", "POST answers only session_id (checkout_url is optional)")
class VNoUrl(Handler):
    def send(self, code, obj=None, headers=None, raw_body=None):
        if self.command == "POST" and code == 200 and obj and "checkout_url" in obj:
            obj = {"session_id": obj["session_id"]}
        return super().send(code, obj, headers, raw_body)

@v("valid_rare_enum_unicode", "valid", "valid",
   "rarest enum value partially_captured_and_capturable and non-BMP/CJK customer names in UTF-8")
class VRare(Handler):
    def render(self, r):
        d = super().render(r)
        if d["payment_status"] == "requires_customer_action":
            d["payment_status"] = "partially_captured_and_capturable"; d["customer_name"] = "山田 花子 \U0001F600"
        return d

@v("valid_ascii_escaped_pretty", "valid", "valid", "pretty-printed JSON with \\u escapes (ensure_ascii) and a trailing newline")
class VPretty(Handler):
    def serialize(self, obj):
        return (json.dumps(obj, indent=2, ensure_ascii=True) + "\n").encode()

@v("valid_http10_close", "valid", "valid", "HTTP/1.0 status line with Connection: close (a server may answer 1.0)")
class VHttp10(Handler):
    def status_line(self, code):
        return "HTTP/1.0" + super().status_line(code)[8:]
    def extra_headers(self):
        return [("Connection", "close")]

# ======================= third wave: harder valid servers =======================
@v("valid_404_for_bad_key", "valid", "valid",
   "debatable-valid: uniform 404 for missing/wrong key (GitHub-style hiding; 404 documented, 401 is not; leaks nothing)")
class V404Key(Handler):
    def auth_fail(self):
        self.not_found(None)

@v("valid_lowercase_headers", "valid", "valid", "all response header names lower-case (field names are case-insensitive)")
class VLowerHdr(Handler):
    def frame(self, code, headers, body):
        return super().frame(code, [(k.lower(), val) for k, val in headers], body).replace(b"\r\nContent-Length:", b"\r\ncontent-length:")

@v("valid_silent_close", "HTTP server", "fault",
   "RECLASSIFIED after first contact (designed as valid): never keeps a connection yet omits Connection: close (RFC 9112 9.6 MUST)")
class VSilent(Handler):
    def after_send(self, code):
        self.close_connection = True

@v("valid_chunk_ext_trailers", "valid", "valid", "chunked with chunk extensions and a trailer field (RFC 9112 7.1)")
class VChunkExt(Handler):
    def frame(self, code, headers, body):
        if not body or self.command == "HEAD":
            return super().frame(code, headers, body)
        head = self.status_line(code) + "".join(f"{k}: {v}\r\n" for k, v in headers) + "Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        h = len(body) // 2
        return (head.encode("latin-1") + f"{h:X};ext=1\r\n".encode() + body[:h] + b"\r\n" +
                f"{len(body) - h:x};name=\"v\"\r\n".encode() + body[h:] + b"\r\n0\r\nX-Checksum: abc\r\n\r\n")

@v("valid_visible_after_2500ms", "valid", "valid",
   "eventual consistency: created session readable after 2.5 s (inside the gate's documented 5-read window; SHOULD only)")
class VLag2(Handler):
    visibility_delay = 2.5

@v("valid_idle_timeout", "valid", "valid",
   "keep-alive idle timeout of 0.2 s: idle connections are closed without notice (RFC 9112 9.5: MAY close at any time)")
class VIdle(Handler):
    timeout = 0.2

# ======================= fourth wave (written after rounds 1-2 of waves 1-3, before running them) =======================
@v("http_gzip_header_plain_body", "HTTP proxy", "fault",
   "proxy decompresses the body but forwards Content-Encoding: gzip unchanged")
class HttpGzipLie(Handler):
    def extra_headers(self):
        return [("Content-Encoding", "gzip")]

@v("http_gzip_no_header", "HTTP proxy", "fault", "proxy gzips the body but drops the Content-Encoding header")
class HttpGzipHidden(Handler):
    def serialize(self, obj):
        return gzip.compress(super().serialize(obj))

@v("ser_double_encoded", "serializer", "fault", "JSON encoded twice: the body is a JSON string containing the object")
class SerDouble(Handler):
    def serialize(self, obj):
        return json.dumps(json.dumps(obj)).encode()

@v("ser_isoformat_plus_z", "serializer", "fault",
   "dt.isoformat() + 'Z' on an aware datetime: 2026-12-07T21:04:11.312000+00:00Z")
class SerPlusZ(Handler):
    def render(self, r):
        d = super().render(r); d["created_at"] = r["created_at"].isoformat() + "Z"; return d

@v("orm_nul_truncation", "ORM/lookup", "fault", "C driver treats the id as a C string: everything after %00 is ignored")
class OrmNul(_Lookup):
    def match(self, r, cid):
        return r["id"] == cid.split("\x00")[0]

@v("orm_nul_500", "ORM/lookup", "fault",
   "debatable (500 is documented): Postgres rejects NUL / invalid UTF-8 in the id and the 500 bubbles up")
class OrmNul500(Handler):
    def get_checkout(self, cid):
        if self.authorized() and ("\x00" in cid or "\ufffd" in cid):
            return self.error(500, "INTERNAL_SERVER_ERROR", "Something went wrong :(")
        return super().get_checkout(cid)
    def route_id(self, path):
        if not path.startswith("/checkouts/"):
            return None
        seg = path[len("/checkouts/"):]
        return None if seg == "" or "/" in seg else unquote(seg, errors="replace")

@v("valid_404_echoes_id", "valid", "valid", "404 JSON body echoes the requested id and a request id (caller-supplied data only)")
class V404Echo(Handler):
    def not_found(self, cid):
        self.send(404, {"code": "NOT_FOUND", "message": f"Checkout session {cid!r} not found", "request_id": "req_81f3a"})

@v("valid_processing_state", "valid", "valid",
   "seeded unpaid session is mid-payment: payment_id set, payment_status 'processing', customer still null")
class VProcessing(Handler):
    def render(self, r):
        d = super().render(r)
        if d["id"] == "cks_Tm4qW8zR2kLp9XvN3bY7c":
            d.update(payment_id="pay_Hh2Jj3Kk4Ll5Mm6Nn7Pp8", payment_status="processing")
        return d

@v("valid_ct_uppercase_charset", "valid", "valid", "Content-Type: application/json;charset=UTF-8 (no space, upper-case value)")
class VCtUpper(Handler):
    def content_type(self):
        return "application/json;charset=UTF-8"
