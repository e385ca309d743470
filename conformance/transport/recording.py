"""The hooks vcrpy needs to record and replay through the transport's own connection pools."""

from __future__ import annotations

from typing import Any

from conformance.transport.connections import Connection, Pool, SecureConnection, SecurePool


class _ReadAsSent:
    """Makes a connection's response body read as sent, content codings and all.

    vcrpy records by sending the request again on a real connection and calling `read()` on its
    response, without the `decode_content=False` the gate's own requests carry: urllib3 then undid the
    gzip while Content-Encoding still said gzip, and every coded reply of a recording failed to decode.
    """

    def request(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - urllib3's own signature
        super().request(*args, **{**kwargs, "decode_content": False})  # type: ignore[misc] # a mixin of a connection


class _UndecodedConnection(_ReadAsSent, Connection):
    """The connection a recording reads through."""


class _UndecodedSecureConnection(_ReadAsSent, SecureConnection):
    """The same over TLS."""


def vcr_patches() -> tuple[tuple[type, str, type], ...]:
    """What vcrpy must swap to record and replay the gate's own connection pools (vcrpy swaps urllib3's own)."""
    import vcr.stubs  # noqa: PLC0415 - only with cassettes; imported late so pytest can rewrite what it loads

    class RecordedConnection(vcr.stubs.VCRHTTPConnection, Connection):  # type: ignore[misc] # vcrpy is untyped
        """Records through a real connection that leaves the body as sent; replays without one."""

        _baseclass = _UndecodedConnection

    class RecordedSecureConnection(vcr.stubs.VCRHTTPSConnection, SecureConnection):  # type: ignore[misc]
        """The same over TLS."""

        _baseclass = _UndecodedSecureConnection

    return ((Pool, "ConnectionCls", RecordedConnection), (SecurePool, "ConnectionCls", RecordedSecureConnection))
