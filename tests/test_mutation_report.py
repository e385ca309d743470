"""`make mutation MODULES=...` adds to reports/mutation.md: rows measured earlier are kept, each naming its run."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def harness() -> SimpleNamespace:
    # The harness's modules import each other as siblings of mutation/run.py, the script `make mutation` runs.
    sys.path.insert(0, str(ROOT / "mutation"))
    try:
        names = ("targets", "outcomes", "record", "recheck", "run")
        return SimpleNamespace(**{name: importlib.import_module(name) for name in names})
    finally:
        sys.path.remove(str(ROOT / "mutation"))


def _report(harness: SimpleNamespace, report_dir: Path, module: str, commit: str, outcomes: list[str]) -> None:
    target = next(target for target in harness.targets.TABLE if target.module == module)
    result = harness.outcomes.ModuleResult(target, list(target.tests), 60.0, 5.0, seconds=90.0)
    result.mutants = [
        harness.outcomes.Mutant(module, line, 0, "core/NumberReplacer", None, outcome, "1", "2")
        for line, outcome in enumerate(outcomes, 1)
    ]
    harness.record.write_reports(
        report_dir, [result], pending=[], started_at=f"2026-11-29 0{len(commit)}:00 UTC", seconds=90.0,
        workers_count=2, commit=(commit, False),
    )  # fmt: skip


def _rows(report_dir: Path) -> dict[str, list[str]]:
    rows = {}
    for line in (report_dir / "mutation.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| conformance/") and "::" not in cells[0]:
            rows[cells[0]] = cells
    return rows


def test_a_run_of_one_module_keeps_the_rows_of_the_others_each_with_its_own_commit(
    harness: SimpleNamespace, tmp_path: Path
) -> None:
    _report(harness, tmp_path, "conformance/hosts.py", "bbb", ["killed", "killed", "survived"])
    _report(harness, tmp_path, "conformance/redaction.py", "aaa", ["killed"])
    rows = _rows(tmp_path)
    # In the table's order, whatever order they were measured in.
    assert list(rows) == ["conformance/redaction.py", "conformance/hosts.py"]
    assert rows["conformance/redaction.py"][1:4] == ["1", "1", "0"]
    assert rows["conformance/redaction.py"][-1] == "aaa, 2026-11-29 03:00"
    assert rows["conformance/hosts.py"][1:5] == ["3", "2", "0", "1"]
    assert rows["conformance/hosts.py"][-1] == "bbb, 2026-11-29 03:00"
    record = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))
    assert [module["run"]["commit"] for module in record["modules"]] == ["aaa", "bbb"]
    # hosts.py's survivor is not accepted, so its 100% target is missed, and the record says so.
    assert record["ok"] is False
    assert not record["complete"]
    assert "conformance/settings.py" in record["unmeasured"]
    assert "incomplete, never measured: conformance/settings.py" in (tmp_path / "mutation.md").read_text()


def test_measuring_a_module_again_replaces_only_its_row(harness: SimpleNamespace, tmp_path: Path) -> None:
    _report(harness, tmp_path, "conformance/hosts.py", "bbb", ["survived"])
    _report(harness, tmp_path, "conformance/redaction.py", "aaa", ["killed"])
    _report(harness, tmp_path, "conformance/hosts.py", "cccc", ["killed", "killed"])
    rows = _rows(tmp_path)
    assert rows["conformance/hosts.py"][1:3] == ["2", "2"]
    assert rows["conformance/hosts.py"][-1] == "cccc, 2026-11-29 04:00"
    assert rows["conformance/redaction.py"][-1] == "aaa, 2026-11-29 03:00"


def test_an_unreadable_earlier_report_is_replaced_not_a_crash(harness: SimpleNamespace, tmp_path: Path) -> None:
    (tmp_path / "mutation.json").write_text('{"modules": [', encoding="utf-8")
    _report(harness, tmp_path, "conformance/redaction.py", "aaa", ["killed"])
    assert list(_rows(tmp_path)) == ["conformance/redaction.py"]


def test_a_report_of_the_first_format_is_read_with_its_one_run_for_every_module(
    harness: SimpleNamespace, tmp_path: Path
) -> None:
    _report(harness, tmp_path, "conformance/hosts.py", "bbb", ["killed"])
    record = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))
    for module in record["modules"]:
        del module["run"]
    record.update(format_version=1, commit="old", started_at="2026-11-01 10:00 UTC")
    (tmp_path / "mutation.json").write_text(json.dumps(record), encoding="utf-8")
    assert harness.record.rejudge(tmp_path) == 0
    assert _rows(tmp_path)["conformance/hosts.py"][-1] == "old, 2026-11-01 10:00"


def test_a_module_stopped_part_way_keeps_what_ran_and_is_not_judged_whole(
    harness: SimpleNamespace, tmp_path: Path
) -> None:
    target = next(target for target in harness.targets.TABLE if target.module == "conformance/hosts.py")
    result = harness.outcomes.ModuleResult(target, list(target.tests), 60.0, 5.0, seconds=30.0, not_run=7)
    result.mutants = [harness.outcomes.Mutant(target.module, 1, 0, "core/NumberReplacer", None, "killed", "1", "2")]
    harness.record.write_reports(
        tmp_path, [result], pending=[], started_at="2026-11-29 05:00 UTC", seconds=30.0, workers_count=2,
        commit=("eee", False),
    )  # fmt: skip
    row = _rows(tmp_path)
    assert list(row) == ["conformance/hosts.py (stopped: 7 of 8 not run)"]
    cells = row["conformance/hosts.py (stopped: 7 of 8 not run)"]
    # Every mutant that ran was killed, yet the module is not judged to meet its target.
    assert cells[7:10] == ["100.0%", "100%", "**no**"]
    record = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))
    assert record["modules"][0]["not_run"] == 7
    assert record["ok"] is False


def test_a_recorded_mutant_is_made_again_only_where_its_line_still_reads_as_recorded(harness: SimpleNamespace) -> None:
    source = "def f(x):\n    if x > 0:\n        return 1\n    return 2\n"
    mutant = {"line": 2, "original": "if x > 0:", "mutated": "if x >= 0:"}
    assert harness.recheck.reapplied(source, mutant) == "def f(x):\n    if x >= 0:\n        return 1\n    return 2\n"
    # The line moved or changed: nothing is made, rather than a different mutant.
    assert harness.recheck.reapplied(source, {**mutant, "line": 3}) is None
    assert harness.recheck.reapplied(source, {**mutant, "line": 9}) is None
    # Lines joined from a multi-line diff, or a result that does not parse, are not made either.
    assert harness.recheck.reapplied(source, {**mutant, "original": "if x > 0: / return 1"}) is None
    assert harness.recheck.reapplied(source, {**mutant, "mutated": "if x >= 0"}) is None


def test_survivors_killed_on_a_recheck_move_into_the_counts_and_the_row_says_when(
    harness: SimpleNamespace, tmp_path: Path
) -> None:
    # settings.py has a critical part (refuse_live_mode): a kill inside it counts there too.
    target = next(target for target in harness.targets.TABLE if target.module == "conformance/settings.py")
    result = harness.outcomes.ModuleResult(target, list(target.tests), 60.0, 5.0, seconds=90.0)
    result.mutants = [
        harness.outcomes.Mutant(
            target.module, 1, 0, "core/NumberReplacer", "refuse_live_mode", "survived", "a = 1", "a = 2"
        ),
        harness.outcomes.Mutant(target.module, 2, 0, "core/NumberReplacer", "other", "survived", "b = 1", "b = 2"),
        harness.outcomes.Mutant(target.module, 3, 0, "core/NumberReplacer", "other", "killed", "c = 1", "c = 2"),
    ]
    harness.record.write_reports(
        tmp_path, [result], pending=[], started_at="2026-11-29 05:00 UTC", seconds=90.0, workers_count=2,
        commit=("aaa", False),
    )  # fmt: skip
    record = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))
    row = record["modules"][0]
    first = next(mutant for mutant in row["mutants"] if mutant["line"] == 1)
    harness.recheck.rechecked_row(
        row, [(first, "killed")], {"started_at": "2026-11-29 06:00 UTC", "commit": "bbb", "dirty": False}
    )
    harness.record.apply_accepted(record, {})
    harness.record.write(tmp_path, record)
    again = json.loads((tmp_path / "mutation.json").read_text(encoding="utf-8"))["modules"][0]
    assert (again["score"]["killed"], again["score"]["survived"], again["score"]["score"]) == (2, 1, 0.6667)
    assert again["critical"][0]["score"]["score"] == 1.0
    assert [mutant["line"] for mutant in again["mutants"] if mutant["outcome"] == "survived"] == [2]
    assert again["rechecked"]["killed"][0]["original"] == "a = 1"
    cells = _rows(tmp_path)["conformance/settings.py"]
    assert cells[-1] == "aaa, 2026-11-29 05:00; survivors run again at bbb"
    page = (tmp_path / "mutation.md").read_text(encoding="utf-8")
    assert "## Survivors killed when run again" in page
    assert "- conformance/settings.py:1 `a = 1` -> `a = 2`" in page
    assert "conformance/settings.py:2 in `other`" in page


def test_a_recheck_refuses_a_module_changed_since_its_row_was_measured(
    harness: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Commit 0000000 names no commit: its diff fails, so the module reads as changed and nothing is run.
    _report(harness, tmp_path, "conformance/hosts.py", "0000000", ["survived"])
    assert harness.run.main(["recheck", "--modules", "conformance/hosts.py", "--report-dir", str(tmp_path)]) == 2
    assert "conformance/hosts.py is not as its row measured it (commit 0000000)" in capsys.readouterr().err
    assert harness.run.main(["recheck", "--modules", "conformance/cli.py", "--report-dir", str(tmp_path)]) == 2
    assert "no row to recheck for conformance/cli.py" in capsys.readouterr().err
