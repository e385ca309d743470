"""Makes `pytest --sandbox` / `pytest --base-url URL ...` run the conformance suite from a checkout.

An installed package brings the plugin through its `pytest11` entry point; this file registers it only
when the package is not installed (a checkout on PYTHONPATH), so that it is never registered twice.
"""

from importlib.metadata import entry_points

if not any(entry.value == "conformance.plugin" for entry in entry_points(group="pytest11")):
    pytest_plugins = ["conformance.plugin"]
