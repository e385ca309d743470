"""Makes `pytest --sandbox` / `pytest --base-url URL ...` run the conformance suite from this folder."""

pytest_plugins = ["conformance.plugin"]
