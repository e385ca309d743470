"""Walking OLD and NEW in step: operations, parameters, bodies, responses, security, and schemas down to leaves.

A schema shared by many operations is compared once per pair of nodes and side (memoised) and its
changes are then stamped with each operation that uses it; a schema that contains itself is compared
once, so recursion ends.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conformance.diff import rules
from conformance.diff.catalogue import RULES, schema_rule
from conformance.diff.load import child
from conformance.diff.model import Finding, Side
from conformance.diff.rules import UNIONS, Change, Pair, as_schema

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conformance.diff.load import Spec

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TEMPLATE = re.compile(r"\{[^}/]*\}")
Key = tuple[str, str, Side]


def _normal(path: str) -> str:
    """A path with its parameters unnamed: `/a/{id}` and `/a/{a_id}` are the same operation."""
    return _TEMPLATE.sub("{}", path)


def _mapping(node: object) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


class Walk:
    """One diff of OLD against NEW: `findings()` yields every change, classified."""

    def __init__(self, old: Spec, new: Spec) -> None:
        self.old = old
        self.new = new
        self._memo: dict[Key, list[Change]] = {}
        self._open: set[Key] = set()

    def findings(self) -> Iterator[Finding]:
        """Every change between the two documents' operations."""
        old_paths = {_normal(path): path for path in _mapping(self.old.root.get("paths"))}
        new_paths = {_normal(path): path for path in _mapping(self.new.root.get("paths"))}
        for normal in sorted(old_paths.keys() | new_paths.keys()):
            old_path, new_path = old_paths.get(normal), new_paths.get(normal)
            old_item = self._path_item(self.old, old_path)
            new_item = self._path_item(self.new, new_path)
            for method in METHODS:
                old_op, new_op = _mapping(old_item[0].get(method)), _mapping(new_item[0].get(method))
                if not old_op and not new_op:
                    continue
                label = f"{method.upper()} {new_path or old_path}"
                old_pointer = child(old_item[1], method)
                new_pointer = child(new_item[1], method)
                if not old_op:
                    yield self._finding("endpoint-added", f"added {label}", label, None, new_pointer)
                elif not new_op:
                    rule = (
                        "api-removed-with-deprecation"
                        if old_op.get("deprecated")
                        else "api-removed-without-deprecation"
                    )
                    where = new_pointer if new_path else "#/paths"
                    yield self._finding(rule, f"removed {label}", label, old_pointer, where)
                else:
                    operation = _Operation(label, old_item, new_item, method)
                    yield from self._operation(operation)
        yield from self._webhooks()

    def _path_item(self, spec: Spec, path: str | None, container: str = "paths") -> tuple[dict[str, Any], str]:
        if path is None:
            return {}, f"#/{container}"
        pointer = child(f"#/{container}", path)
        return _mapping(spec.resolve(spec.root[container][path], pointer)[0]), pointer

    def _webhooks(self) -> Iterator[Finding]:
        """Webhooks: what the API sends to the client's server, so their bodies are judged as responses are."""
        old_hooks, new_hooks = _mapping(self.old.root.get("webhooks")), _mapping(self.new.root.get("webhooks"))
        for name in sorted(old_hooks.keys() | new_hooks.keys()):
            old_item = self._path_item(self.old, name if name in old_hooks else None, "webhooks")
            new_item = self._path_item(self.new, name if name in new_hooks else None, "webhooks")
            for method in METHODS:
                old_op, new_op = _mapping(old_item[0].get(method)), _mapping(new_item[0].get(method))
                label = f"WEBHOOK {name}"
                if old_op and new_op:
                    yield from self._webhook_body(_Operation(label, old_item, new_item, method))
                elif new_op:
                    yield self._finding(
                        "webhook-added", f"added the webhook {name}", label, None, child(new_item[1], method)
                    )
                elif old_op:
                    yield self._finding(
                        "webhook-removed", f"removed the webhook {name}", label, child(old_item[1], method), new_item[1]
                    )

    def _webhook_body(self, op: _Operation) -> Iterator[Finding]:
        old = self.old.resolve(op.old_op.get("requestBody", {}), child(op.old_pointer, "requestBody"))
        new = self.new.resolve(op.new_op.get("requestBody", {}), child(op.new_pointer, "requestBody"))
        yield from self._content(
            op, (_mapping(old[0]), old[1]), (_mapping(new[0]), new[1]), Side.RESPONSE, None, "webhook body"
        )

    def _finding(
        self, rule: str, message: str, operation: str | None, old: str | None, new: str | None, **where: str | None
    ) -> Finding:
        spec = RULES[rule]
        return Finding(
            rule=rule,
            level=spec.level,
            side=spec.side,
            message=message,
            why=spec.reason,
            operation=operation,
            old_pointer=old,
            new_pointer=new,
            **where,
        )

    def _operation(self, op: _Operation) -> Iterator[Finding]:
        yield from self._parameters(op)
        yield from self._request_body(op)
        yield from self._responses(op)
        yield from self._security(op)

    def _parameters(self, op: _Operation) -> Iterator[Finding]:
        old_params = self._params(self.old, op.old_item, op.method)
        new_params = self._params(self.new, op.new_item, op.method)
        for key in sorted(old_params.keys() | new_params.keys()):
            where = f"parameter {key[0]} {key[1]}"
            old = old_params.get(key)
            new = new_params.get(key)
            if old is None and new is not None:
                required = bool(new[0].get("required")) or key[0] == "path"
                rule = "new-required-request-parameter" if required else "new-optional-request-parameter"
                yield self._finding(
                    rule,
                    f"added the {'required' if required else 'optional'} {where}",
                    op.label,
                    None,
                    new[1],
                    where=where,
                )
            elif new is None and old is not None:
                yield self._finding(
                    "request-parameter-removed",
                    f"removed the {where}",
                    op.label,
                    old[1],
                    child(op.new_pointer, "parameters"),
                    where=where,
                )
            elif old is not None and new is not None:
                if bool(old[0].get("required")) != bool(new[0].get("required")) and key[0] != "path":
                    became = "required" if new[0].get("required") else "optional"
                    yield self._finding(
                        f"request-parameter-became-{became}",
                        f"the {where} became {became}",
                        op.label,
                        old[1],
                        new[1],
                        where=where,
                    )
                old_schema, new_schema = _parameter_schema(old), _parameter_schema(new)
                if old_schema is not None and new_schema is not None:
                    changes = self.schema(old_schema[0], old_schema[1], new_schema[0], new_schema[1], Side.REQUEST)
                    yield from self._stamp(changes, op, "parameter", Side.REQUEST, where=where)

    def _params(self, spec: Spec, item: tuple[dict[str, Any], str], method: str) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        operation = _mapping(item[0].get(method))
        for owner, pointer in ((item[0], item[1]), (operation, child(item[1], method))):
            for index, raw in enumerate(owner.get("parameters") or []):
                resolved, resolved_pointer = spec.resolve(raw, child(pointer, "parameters", index))
                parameter = _mapping(resolved)
                place, name = str(parameter.get("in", "")), str(parameter.get("name", ""))
                # Header names are case-insensitive (RFC 9110): X-Id and x-id are one parameter.
                found[(place, name.lower() if place == "header" else name)] = (parameter, resolved_pointer)
        return found

    def _request_body(self, op: _Operation) -> Iterator[Finding]:
        old_raw, new_raw = op.old_op.get("requestBody"), op.new_op.get("requestBody")
        if old_raw is None and new_raw is None:
            return
        old_body, old_pointer = self.old.resolve(old_raw, child(op.old_pointer, "requestBody"))
        new_body, new_pointer = self.new.resolve(new_raw, child(op.new_pointer, "requestBody"))
        where = "request body"
        if old_raw is None:
            required = bool(_mapping(new_body).get("required"))
            rule = "request-body-added-required" if required else "request-body-added-optional"
            yield self._finding(
                rule,
                f"added a {'required' if required else 'optional'} request body",
                op.label,
                None,
                new_pointer,
                where=where,
            )
            return
        if new_raw is None:
            yield self._finding(
                "request-body-removed", "removed the request body", op.label, old_pointer, op.new_pointer, where=where
            )
            return
        old_body, new_body = _mapping(old_body), _mapping(new_body)
        if bool(old_body.get("required")) != bool(new_body.get("required")):
            became = "required" if new_body.get("required") else "optional"
            yield self._finding(
                f"request-body-became-{became}",
                f"the request body became {became}",
                op.label,
                old_pointer,
                new_pointer,
                where=where,
            )
        yield from self._content(op, (old_body, old_pointer), (new_body, new_pointer), Side.REQUEST, None)

    def _content(  # noqa: PLR0913, PLR0917 - a body is placed by its operation, side, status and kind
        self,
        op: _Operation,
        old: tuple[dict[str, Any], str],
        new: tuple[dict[str, Any], str],
        side: Side,
        status: str | None,
        where: str | None = None,
    ) -> Iterator[Finding]:
        old_content, new_content = _mapping(old[0].get("content")), _mapping(new[0].get("content"))
        where = where or ("request body" if side is Side.REQUEST else "response body")
        prefix = "request-body-media-type" if side is Side.REQUEST else "response-media-type"
        for media in sorted(old_content.keys() | new_content.keys()):
            old_pointer = child(old[1], "content", media)
            new_pointer = child(new[1], "content", media)
            if media not in old_content:
                yield self._finding(
                    f"{prefix}-added",
                    f"added the media type {media}",
                    op.label,
                    None,
                    new_pointer,
                    status=status,
                    media_type=media,
                    where=where,
                )
            elif media not in new_content:
                yield self._finding(
                    f"{prefix}-removed",
                    f"removed the media type {media}",
                    op.label,
                    old_pointer,
                    child(new[1], "content") if new_content else new[1],
                    status=status,
                    media_type=media,
                    where=where,
                )
            else:
                old_media, new_media = _mapping(old_content[media]), _mapping(new_content[media])
                if "schema" in old_media and "schema" in new_media:
                    changes = self.schema(
                        old_media["schema"],
                        child(old_pointer, "schema"),
                        new_media["schema"],
                        child(new_pointer, "schema"),
                        side,
                    )
                    yield from self._stamp(changes, op, "body", side, status=status, media_type=media, where=where)

    def _responses(self, op: _Operation) -> Iterator[Finding]:
        old_responses = _mapping(op.old_op.get("responses"))
        new_responses = _mapping(op.new_op.get("responses"))
        for status in sorted(old_responses.keys() | new_responses.keys(), key=str):
            old_pointer = child(op.old_pointer, "responses", status)
            new_pointer = child(op.new_pointer, "responses", status)
            kind = "success" if str(status).startswith("2") else "non-success"
            if status not in old_responses:
                yield self._finding(
                    f"response-{kind}-status-added",
                    f"added the {status} response",
                    op.label,
                    None,
                    new_pointer,
                    status=str(status),
                )
            elif status not in new_responses:
                yield self._finding(
                    f"response-{kind}-status-removed",
                    f"removed the {status} response",
                    op.label,
                    old_pointer,
                    child(op.new_pointer, "responses"),
                    status=str(status),
                )
            else:
                old = self.old.resolve(old_responses[status], old_pointer)
                new = self.new.resolve(new_responses[status], new_pointer)
                yield from self._content(
                    op, (_mapping(old[0]), old[1]), (_mapping(new[0]), new[1]), Side.RESPONSE, str(status)
                )

    def _security(self, op: _Operation) -> Iterator[Finding]:
        old = _requirements(op.old_op.get("security", self.old.root.get("security")))
        new = _requirements(op.new_op.get("security", self.new.root.get("security")))
        old_pointer = child(op.old_pointer, "security") if "security" in op.old_op else "#/security"
        new_pointer = child(op.new_pointer, "security") if "security" in op.new_op else op.new_pointer
        old_open, new_open = _is_open(old), _is_open(new)
        if old_open and not new_open:
            yield self._finding(
                "api-security-added-to-open-operation",
                f"now requires {_alternatives(new)}",
                op.label,
                old_pointer,
                new_pointer,
            )
            return
        if new_open and not old_open:
            yield self._finding(
                "api-security-removed-from-operation",
                f"no longer requires {_alternatives(old)}",
                op.label,
                old_pointer,
                new_pointer,
            )
            return
        for schemes in sorted(old.keys() | new.keys(), key=sorted):
            name = " + ".join(sorted(schemes)) or "no credentials"
            if schemes not in new:
                yield self._finding(
                    "api-security-removed", f"no longer accepts {name}", op.label, old_pointer, new_pointer
                )
            elif schemes not in old:
                yield self._finding(
                    "api-security-added", f"now also accepts {name}", op.label, old_pointer, new_pointer
                )
            else:
                for scheme in sorted(schemes):
                    for scope in sorted(new[schemes][scheme] - old[schemes][scheme]):
                        yield self._finding(
                            "api-security-scope-added",
                            f"{scheme} now needs the scope {scope}",
                            op.label,
                            old_pointer,
                            new_pointer,
                        )
                    for scope in sorted(old[schemes][scheme] - new[schemes][scheme]):
                        yield self._finding(
                            "api-security-scope-removed",
                            f"{scheme} no longer needs the scope {scope}",
                            op.label,
                            old_pointer,
                            new_pointer,
                        )

    def _stamp(
        self, changes: list[Change], op: _Operation, root: str, side: Side, **where: str | None
    ) -> Iterator[Finding]:
        for change in changes:
            if change.rule is not None:
                rule = change.rule
            else:
                place = root if root == "parameter" or not change.path else "property"
                rule = schema_rule(side, place, change.change)
            finding = self._finding(rule, change.message, op.label, change.old_pointer, change.new_pointer, **where)
            path = _dotted(change.path)
            yield Finding(**{**finding.__dict__, "property": path or None})

    def schema(self, old: object, old_pointer: str, new: object, new_pointer: str, side: Side) -> list[Change]:
        """Every change between two schemas and below them, on one side, relative to them (memoised)."""
        old_node, old_pointer = self.old.resolve(old, old_pointer)
        new_node, new_pointer = self.new.resolve(new, new_pointer)
        key = (old_pointer, new_pointer, side)
        if key in self._memo:
            return self._memo[key]
        if key in self._open:
            # A schema inside itself: its changes are already reported where the recursion began.
            return []
        self._open.add(key)
        pair = Pair(
            _unwrap(as_schema(old_node)),
            old_pointer,
            _unwrap(as_schema(new_node)),
            new_pointer,
            side,
            self.old,
            self.new,
        )
        changes = list(rules.compare_node(pair))
        for token, old_child, new_child in self._children(pair):
            below = self.schema(old_child[0], old_child[1], new_child[0], new_child[1], side)
            changes += [change.under(token) if token else change for change in below]
        self._open.discard(key)
        self._memo[key] = changes
        return changes

    def _children(self, pair: Pair) -> Iterator[tuple[str, tuple[object, str], tuple[object, str]]]:
        old_properties = _mapping(pair.old.get("properties"))
        new_properties = _mapping(pair.new.get("properties"))
        for name in sorted(old_properties.keys() & new_properties.keys()):
            yield (
                name,
                (old_properties[name], child(pair.old_pointer, "properties", name)),
                (new_properties[name], child(pair.new_pointer, "properties", name)),
            )
        if rules.additional_kind(pair.old) == rules.additional_kind(pair.new) == "schema":
            yield (
                "*",
                (pair.old["additionalProperties"], child(pair.old_pointer, "additionalProperties")),
                (pair.new["additionalProperties"], child(pair.new_pointer, "additionalProperties")),
            )
        if isinstance(pair.old.get("items"), dict | bool) and isinstance(pair.new.get("items"), dict | bool):
            yield (
                "[]",
                (pair.old["items"], child(pair.old_pointer, "items")),
                (pair.new["items"], child(pair.new_pointer, "items")),
            )
        yield from self._branch_children(pair)

    def _branch_children(self, pair: Pair) -> Iterator[tuple[str, tuple[object, str], tuple[object, str]]]:
        old_union = next((key for key in UNIONS if isinstance(pair.old.get(key), list)), None)
        new_union = next((key for key in UNIONS if isinstance(pair.new.get(key), list)), None)
        for keyword in ("oneOf", "anyOf", "allOf"):
            if isinstance(pair.old.get(keyword), list) and isinstance(pair.new.get(keyword), list):
                matched, _, _ = rules.match(
                    pair,
                    rules.branches(self.old, pair.old, pair.old_pointer, keyword),
                    rules.branches(self.new, pair.new, pair.new_pointer, keyword),
                )
                for old_branch, new_branch in matched:
                    yield "", (old_branch[0], old_branch[1]), (new_branch[0], new_branch[1])
        # One side a union, the other not (`X` became `oneOf [null, X]`): follow the one branch that fits.
        if old_union and not new_union:
            only = _one_fitting(rules.branches(self.old, pair.old, pair.old_pointer, old_union), pair.new, self.old)
            if only is not None:
                yield "", (only[0], only[1]), (pair.new, pair.new_pointer)
        elif new_union and not old_union:
            only = _one_fitting(rules.branches(self.new, pair.new, pair.new_pointer, new_union), pair.old, self.new)
            if only is not None:
                yield "", (pair.old, pair.old_pointer), (only[0], only[1])


class _Operation:
    """An operation present in both documents."""

    def __init__(
        self, label: str, old_item: tuple[dict[str, Any], str], new_item: tuple[dict[str, Any], str], method: str
    ) -> None:
        self.label = label
        self.method = method
        self.old_item = old_item
        self.new_item = new_item
        self.old_op = _mapping(old_item[0].get(method))
        self.new_op = _mapping(new_item[0].get(method))
        self.old_pointer = child(old_item[1], method)
        self.new_pointer = child(new_item[1], method)


def _one_fitting(branches: list[rules.Branch], other: dict[str, Any], spec: Spec) -> rules.Branch | None:
    if len(branches) == 1:
        return branches[0]
    other_types = rules.types_of(other, spec)
    fitting = [
        branch
        for branch in branches
        if other_types is not None and (rules.types_of(branch[0], spec) or frozenset()) & other_types
    ]
    return fitting[0] if len(fitting) == 1 else None


def _unwrap(schema: dict[str, Any]) -> dict[str, Any]:
    """`allOf: [X]` with nothing else that constrains is X itself (a common way to annotate a `$ref`)."""
    all_of = schema.get("allOf")
    constraining = set(schema) - {"allOf", "description", "title", "example", "examples", "default", "deprecated"}
    if isinstance(all_of, list) and len(all_of) == 1 and not constraining and isinstance(all_of[0], dict):
        return {**all_of[0], **{key: value for key, value in schema.items() if key != "allOf"}}
    return schema


def _parameter_schema(parameter: tuple[dict[str, Any], str]) -> tuple[object, str] | None:
    node, pointer = parameter
    if "schema" in node:
        return node["schema"], child(pointer, "schema")
    for media, value in _mapping(node.get("content")).items():
        if isinstance(value, dict) and "schema" in value:
            return value["schema"], child(pointer, "content", media, "schema")
    return None


def _requirements(security: object) -> dict[frozenset[str], dict[str, frozenset[str]]]:
    """Security alternatives by the schemes they combine, each scheme with its scopes."""
    found: dict[frozenset[str], dict[str, frozenset[str]]] = {}
    for alternative in security if isinstance(security, list) else []:
        if isinstance(alternative, dict):
            found[frozenset(alternative)] = {
                name: frozenset(scopes if isinstance(scopes, list) else []) for name, scopes in alternative.items()
            }
    return found


def _is_open(requirements: dict[frozenset[str], dict[str, frozenset[str]]]) -> bool:
    """No requirement, or an empty alternative `{}`: callable without credentials."""
    return not requirements or frozenset() in requirements


def _alternatives(requirements: dict[frozenset[str], dict[str, frozenset[str]]]) -> str:
    return " or ".join(" + ".join(sorted(schemes)) for schemes in sorted(requirements, key=sorted))


def _dotted(path: tuple[str, ...]) -> str:
    text = ""
    for step in path:
        text += step if step == "[]" else (f".{step}" if text else step)
    return text
