"""report.html: the verdict, then each failed requirement as a card, the check table, and the run's facts.

Self-contained (the style is data/report.css, inlined), readable without JavaScript and printable; the
script only adds copy buttons and a filter.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import TYPE_CHECKING

from conformance.report_words import OPERATION, STATUS_MARKS, oracle_tally, table_notes

if TYPE_CHECKING:
    from conformance.record import CheckRecord, Finding, FindingGroup, RunRecord

# How much of a long id a card shows; the whole id is in the element's title.
ID_SHOWN = 72
SUMMARY_SHOWN = 150
IDS_LISTED = 12

_SCRIPT = """
for (const block of document.querySelectorAll("[data-copy]")) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy";
  button.textContent = "Copy";
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(block.querySelector("code").textContent)
      .then(() => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); });
  });
  block.appendChild(button);
}
const filter = document.getElementById("filter");
const status = document.getElementById("status-filter");
document.getElementById("filters").hidden = false;
function apply() {
  const text = filter.value.trim().toLowerCase();
  for (const item of document.querySelectorAll("[data-check]")) {
    const shown = item.dataset.check.includes(text) && (!status.value || item.dataset.status === status.value);
    item.hidden = !shown;
  }
}
filter.addEventListener("input", apply);
status.addEventListener("change", apply);
"""

# "live" alone would read as Dodo's live mode (real money); the record's mode says only how the answers came.
_HOW_REACHED = {"live": "requests sent", "record": "requests sent and recorded", "replay": "replayed from cassettes"}


def _partial(record: RunRecord) -> str:
    return "".join(f'<p class="partial">{escape(note)}.</p>\n' for note in table_notes(record))


def _stylesheet() -> str:
    return resources.files("conformance.data").joinpath("report.css").read_text(encoding="utf-8")


def render_html(record: RunRecord) -> str:
    """The whole page."""
    result = record.result
    status_class = result.status.replace(" ", "-")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conformance {escape(result.status)}: {escape(OPERATION)}</title>
<style>
{_stylesheet()}</style></head><body>
<header class="verdict {escape(status_class)}" id="verdict">
<h1>{escape(result.status.upper())} <span class="exit">exit {result.exit_code}</span></h1>
<p class="reason">{escape(result.reason)}</p>
<p class="summary-line">{escape(OPERATION)} on <code>{escape(record.run.target)}</code>,
spec {escape(record.run.spec_version)}, seed {record.run.seed}, {record.exchanges.total} exchanges in
{record.run.duration_seconds} s</p>
</header>
<nav id="filters" class="filters" hidden>
<label>Filter by check <input id="filter" type="search" placeholder="e.g. session."></label>
<label>Status <select id="status-filter"><option value="">any</option><option>failed</option><option>warned</option>
<option>passed</option><option>skipped</option></select></label>
</nav>
<main>
{_requirements(record)}
<section id="checks"><h2>Checks</h2>
{_partial(record)}{_table(record)}
</section>
<section id="run"><h2>The run</h2>
{_facts(record)}
</section>
{_notes(record)}
</main>
<script>{_SCRIPT}</script>
</body></html>
"""


def _requirements(record: RunRecord) -> str:
    """The failed requirements, then the SHOULD warnings, each in a section of its own; the first card is open."""
    failed = [item for item in record.checks if item.status == "failed"]
    warned = [item for item in record.checks if item.status == "warned"]
    cards = [
        _card(item, [group for group in record.groups if group.check == item.id], first=index == 0)
        for index, item in enumerate([*failed, *warned])
    ]
    sections = []
    if failed or not warned:
        shown = "\n".join(cards[: len(failed)]) or '<p class="none">No requirement failed.</p>'
        sections.append(f'<section id="failed-requirements"><h2>Failed requirements</h2>\n{shown}\n</section>')
    if warned:
        # A SHOULD warning does not fail the run (without --strict): it is no failed requirement.
        shown = "\n".join(cards[len(failed) :])
        sections.append(f'<section id="warnings"><h2>Warnings (SHOULD)</h2>\n{shown}\n</section>')
    return "\n".join(sections)


def _card(item: CheckRecord, groups: list[FindingGroup], *, first: bool) -> str:
    total = item.failed + item.warned
    groups_html = "\n".join(_group(group, opened=first and index == 0) for index, group in enumerate(groups))
    findings = f"{total} finding{'s' if total != 1 else ''}, {len(groups)} cause{'s' if len(groups) != 1 else ''}"
    return f"""<article class="card {escape(item.status)}" id="check-{escape(item.id)}" data-check="{escape(item.id)}"
data-status="{escape(item.status)}">
<h3><code class="check-id">{escape(item.id)}</code>
<span class="badge {escape(item.status)}">{STATUS_MARKS[item.status]}</span>
<span class="level">{escape(item.level)}</span> <span class="count">{findings}</span></h3>
<p class="requirement">{escape(item.requirement)}
<span class="spec">spec: <code>{escape(item.spec_ref)}</code></span></p>
{groups_html}
</article>"""


def _group(group: FindingGroup, *, opened: bool) -> str:
    example = group.example
    ids = "".join(f"<li>{_id(checkout_id)}</li>" for checkout_id in group.checkout_ids[:IDS_LISTED])
    more = len(group.checkout_ids) - IDS_LISTED + group.ids_dropped
    more_html = f"<li>and {more} more</li>" if more > 0 else ""
    return f"""<details class="group" id="{escape(group.id)}"{" open" if opened else ""}>
<summary><a href="#{escape(group.id)}">{escape(group.id)}</a> &times; {group.count}:
{escape(_cut(group.summary, SUMMARY_SHOWN))}</summary>
{_example(example)}
<div class="command" data-copy><pre><code>{escape(example.curl)}</code></pre></div>
{_replay(group)}
<details class="ids"><summary>Ids that hit it ({len(group.checkout_ids) + group.ids_dropped})</summary>
<ul class="ids">{ids}{more_html}</ul></details>
</details>"""


def _replay(group: FindingGroup) -> str:
    if not group.replay:
        return ""
    return f'<div class="command" data-copy><pre><code>{escape(group.replay)}</code></pre></div>'


def _example(example: Finding) -> str:
    request = (
        f"{escape(example.request.method)} <code>{escape(_cut(example.request.url, 160))}</code> "
        f"({escape(example.purpose)}, {escape(example.credential)})"
    )
    sent = f"<small>sent as <code>{escape(_cut(example.id_sent, ID_SHOWN))}</code></small>"
    rows = [("Request", request)]
    if example.checkout_id:  # a create names no id
        rows.append(("Id", f"{_id(example.checkout_id)} {sent}"))
    if example.why:
        rows.append(("Why this request", escape(example.why)))
    rows += [("Received", escape(example.received)), ("Expected", escape(example.expected))]
    if example.location:
        rows.append(("Location", f"<code>{escape(example.location)}</code>"))
    if example.body_excerpt:
        rows.append(("Body", f"<pre>{escape(example.body_excerpt)}</pre>"))
    cells = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="example">{cells}</dl>'


def _id(checkout_id: str) -> str:
    shown = _cut(checkout_id, ID_SHOWN)
    printable = "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in shown)
    return f'<code class="checkout-id" title="{escape(checkout_id[:500])}">{escape(printable)}</code>'


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(record: RunRecord) -> str:
    rows = "\n".join(
        f'<tr class="{escape(item.status)}" id="row-{escape(item.id)}" data-check="{escape(item.id)}" '
        f'data-status="{escape(item.status)}"><td><span class="badge {escape(item.status)}">'
        f"{STATUS_MARKS[item.status]}</span></td>"
        f'<td><a href="#check-{escape(item.id)}"><code class="check-id">{escape(item.id)}</code></a> '
        f'<span class="level">{escape(item.level)}</span><br><small>{escape(item.requirement)}</small>'
        + (f"<br><small>skipped: {escape(item.skip_reason)}</small>" if item.skip_reason else "")
        + f"</td><td class=num>{item.passed}</td><td class=num>{item.failed}</td><td class=num>{item.warned}</td></tr>"
        for item in record.checks
    )
    return (
        '<table><thead><tr><th></th><th>Check</th><th class=num title="passed">Pass</th>'
        f'<th class=num title="failed">Fail</th><th class=num title="warned">Warn</th></tr></thead><tbody>\n{rows}\n'
        "</tbody></table>"
    )


def _facts(record: RunRecord) -> str:
    run = record.run
    by_status = ", ".join(f"{code}: {count}" for code, count in record.exchanges.by_status.items()) or "none"
    facts = [
        ("Target", f"<code>{escape(run.target)}</code> ({escape(_HOW_REACHED.get(run.mode, run.mode))})"),
        ("Spec", f"<code>{escape(run.spec)}</code>, version {escape(run.spec_version)}"),
        ("Tool", f"{escape(record.tool.name)} {escape(record.tool.version)}"),
        ("Seed", f"{run.seed}, {run.max_examples} generated ids"),
        ("Known sessions", ", ".join(_id(checkout_id) for checkout_id in run.checkout_ids) or "none"),
        ("Started", f"{escape(run.started)}, {run.duration_seconds} s"),
        ("Requests", f"{run.requests_sent} sent; {record.exchanges.total} exchanges judged ({escape(by_status)})"),
        ("Timeout", f"{run.request_timeout_seconds:g} s per response; {'strict' if run.strict else 'not strict'}"),
    ]
    command = (
        f'<div class="command" data-copy><pre><code>{escape(run.command)}</code></pre></div>' if run.command else ""
    )
    cells = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return f'{command}<dl class="facts">{cells}</dl>'


def _notes(record: RunRecord) -> str:
    parts = []
    if record.spec_gaps:
        items = "".join(f"<li>{escape(gap)}</li>" for gap in record.spec_gaps)
        parts.append(f'<section id="spec-gaps"><h2>Spec gaps</h2><ul>{items}</ul></section>')
    if record.oracle is not None:
        parts.append(
            f'<section id="oracle-tally"><h2>Schemathesis oracle</h2><p>Schemathesis\' own response checks '
            f"{escape(oracle_tally(record.oracle))}.</p></section>"
        )
    if record.oracle_disagreements:
        items = "".join(f"<li>{escape(text)}</li>" for text in record.oracle_disagreements[:50])
        parts.append(f'<section id="oracle"><h2>Where Schemathesis judged otherwise</h2><ul>{items}</ul></section>')
    return "\n".join(parts)
