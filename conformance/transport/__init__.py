"""The only package that sends requests to the target.

wire.py reads a response strictly; connections.py holds the connections, the watchdog and the exact
request target; sending.py sends one request once (the layer httpx calls a transport); policy.py paces,
retries and stops around it; client.py is the Transport the gate uses; recording.py hooks vcrpy in.
The key and the probes made from it come from conformance/credentials.py.
"""

from conformance.transport.client import Transport
from conformance.transport.failures import answered_without_http, broke_off, refused_connection, stalled, timed_out
from conformance.transport.policy import STOP_REQUESTED, RetryPolicy, TargetSilent
from conformance.transport.recording import vcr_patches
from conformance.transport.wire import BODY_CAP_BYTES, framing_problems

__all__ = [
    "BODY_CAP_BYTES",
    "STOP_REQUESTED",
    "RetryPolicy",
    "TargetSilent",
    "Transport",
    "answered_without_http",
    "broke_off",
    "framing_problems",
    "refused_connection",
    "stalled",
    "timed_out",
    "vcr_patches",
]
