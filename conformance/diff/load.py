"""Reading an OpenAPI 3.x document for the diff, and following its `$ref`s (loops refused, recursion allowed)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml

from conformance.diff.model import Document
from conformance.errors import BadInputError
from conformance.files import missing

if TYPE_CHECKING:
    from pathlib import Path

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The most `$ref`s followed one after another before a chain counts as a loop.
MAX_CHAIN = 64


def escape(token: str) -> str:
    """One JSON pointer token for a key (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def child(pointer: str, *tokens: str | int) -> str:
    """The pointer of a node under `pointer`."""
    return pointer + "".join(f"/{escape(str(token))}" for token in tokens)


class Spec:
    """A loaded document whose every `$ref` is known to resolve: the walk never meets a dangling one."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.root: dict[str, Any] = document.content
        self._check_refs(self.root, "#")

    def at(self, pointer: str) -> Any:  # noqa: ANN401 - a document's node is any JSON value
        """The node a local pointer (`#/components/schemas/X`) names; KeyError if there is none."""
        node: Any = self.root
        for raw in pointer.removeprefix("#").split("/")[1:]:
            token = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise KeyError(pointer)
        return node

    def resolve(self, node: Any, pointer: str) -> tuple[Any, str]:  # noqa: ANN401 - any JSON value
        """Follow `node`'s `$ref` chain to what it names, with that node's own pointer.

        Siblings of a `$ref` (3.1 allows a description beside it) are annotations here: the target decides.
        """
        for _ in range(MAX_CHAIN):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node, pointer
            pointer = node["$ref"]
            node = self.at(pointer)
        # _check_refs refused every loop at load time.
        raise AssertionError(pointer)  # pragma: no cover

    def _check_refs(self, node: Any, pointer: str) -> None:  # noqa: ANN401 - any JSON value
        """Refuse, with a one-line error, a `$ref` that leaves the document, names nothing, or loops on itself."""
        stack = [(node, pointer)]
        while stack:
            current, where = stack.pop()
            if isinstance(current, dict):
                ref = current.get("$ref")
                if isinstance(ref, str):
                    self._check_chain(ref, where)
                stack.extend((value, child(where, key)) for key, value in current.items())
            elif isinstance(current, list):
                stack.extend((value, child(where, index)) for index, value in enumerate(current))

    def _check_chain(self, ref: str, where: str) -> None:
        label = self.document.label
        seen: list[str] = []
        while True:
            if not ref.startswith("#"):
                raise BadInputError(
                    f"{label} {self.document.path}: $ref {ref!r} at {where} points outside the document",
                    "bundle the document into one file first (e.g. `redocly bundle`)",
                )
            if ref in seen:
                raise BadInputError(
                    f"{label} {self.document.path}: $ref {ref!r} at {where} loops ({' -> '.join([*seen, ref])})",
                    "make one of the references name a schema instead of another reference",
                )
            seen.append(ref)
            try:
                target = self.at(ref)
            except KeyError:
                raise BadInputError(
                    f"{label} {self.document.path}: $ref {ref!r} at {where} does not resolve",
                    "fix the reference or add the component it names",
                ) from None
            if not (isinstance(target, dict) and isinstance(target.get("$ref"), str)):
                return
            ref = target["$ref"]


def load(path: Path, label: str) -> Spec:
    """Read OLD or NEW (`label`), JSON or YAML; raise BadInputError naming the cause and the fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(
            f"{label} spec {missing(path)}", f"pass the path of an OpenAPI document as {label}"
        ) from None
    except IsADirectoryError:
        raise BadInputError(
            f"{label} {path} is a folder", f"pass the path of the OpenAPI document itself as {label}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise BadInputError(
            f"{label} {path} cannot be read ({reason})", "check the file's permissions and that it is UTF-8"
        ) from None
    try:
        content = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(
            f"{label} {path} is not valid JSON or YAML ({first_line})", "fix the syntax error"
        ) from None
    if not isinstance(content, dict):
        raise BadInputError(f"{label} {path} does not hold a mapping", f"pass an OpenAPI 3.x document as {label}")
    version = content.get("openapi")
    if not (isinstance(version, str) and version.startswith("3.")):
        said = f"swagger {content['swagger']}" if "swagger" in content else f"openapi {version!r}"
        raise BadInputError(
            f"{label} {path} is not an OpenAPI 3.x document (it says {said})",
            "convert it to OpenAPI 3.0 or 3.1 first (e.g. with swagger2openapi)",
        )
    if not isinstance(content.get("paths", {}), dict):
        raise BadInputError(f"{label} {path}: `paths` is not a mapping", "fix the document's paths")
    info = content.get("info")
    info_version = str(info.get("version", "")) if isinstance(info, dict) else ""
    return Spec(Document(path=path, label=label, version=info_version, content=content))
