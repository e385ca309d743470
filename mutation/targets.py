"""The module table: each module Cosmic Ray mutates, the tests that judge it, its targets, and what is filtered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# How each mutant's tests are run, in a copy of the checkout.
PYTEST_ARGS = ("-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly")
WORKERS = 2
# The module of the mutant planted in every copy before the run, to prove the tests import the copy's code.
PLANTED_MODULE = "conformance/redaction.py"


@dataclass(frozen=True)
class Target:
    """A module to mutate, the tests that judge it, and the score it must reach."""

    module: str
    tests: tuple[str, ...]
    target: float = 0.90
    # Functions (Cosmic Ray's enclosing-definition names) whose mutants must all be killed.
    critical: tuple[str, ...] = ()
    # When given, only mutants inside these functions are run; the rest of the module is another row's
    # concern or none (the CLI's argument plumbing, say), and is filtered with that reason.
    only: tuple[str, ...] = ()


# The tests that judge every module of conformance/checks/.
# The transport's fast tests: replies scripted byte by byte on a raw socket, and the client in-process.
WIRE_TESTS = ("tests/test_transport_wire.py", "tests/test_transport.py")
CHECK_TESTS = ("tests/test_checks.py", "tests/test_check_edges.py", "tests/test_ledger.py")

# The table to edit: module -> tests (files or node ids) and targets.
TABLE = (
    Target(
        "conformance/redaction.py",
        ("tests/test_redaction.py", "tests/test_secrets.py::test_every_spelling_of_the_key_in_any_text_is_redacted",
         "tests/test_secrets.py::test_every_spelling_of_a_key_dense_with_special_characters_is_redacted",
         "tests/test_secrets.py::test_a_key_shorter_than_a_fragment_is_redacted_whole_and_only_whole",
         "tests/test_secrets.py::test_text_without_the_key_is_left_as_it_is",
         "tests/test_echoed_secrets.py::test_the_key_inside_any_base64_value_is_redacted_at_every_alignment",
         "tests/test_echoed_secrets.py::test_every_echoed_form_of_the_key_and_of_each_near_miss_is_redacted",
         "tests/test_echoed_secrets.py::test_ordinary_text_is_left_as_it_is",
         "tests/test_echoed_secrets.py::test_a_derived_form_shorter_than_a_key_is_not_redacted",
         "tests/test_hostile_bytes.py::test_the_terminal_stream_shows_control_characters_escaped_whoever_writes_them",
         "tests/test_settings.py::test_a_key_of_eight_characters_is_accepted_and_one_of_seven_is_refused_as_too_short"),
        target=1.0,
    ),
    Target(
        "conformance/hosts.py",
        ("tests/test_live_mode.py",
         "tests/test_safety.py::test_a_remote_target_is_paced_at_dodos_documented_limit_and_loopback_is_not",
         "tests/test_one_line.py::test_bad_flags_are_one_line_naming_the_fix",
         "tests/test_cli.py::test_bad_input_is_one_line_with_exit_2"),
        target=1.0,
    ),
    Target(
        "conformance/settings.py",
        ("tests/test_settings.py", "tests/test_live_mode.py",
         "tests/test_one_line.py::test_bad_flags_are_one_line_naming_the_fix",
         "tests/test_cli.py::test_bad_input_is_one_line_with_exit_2",
         "tests/test_safety.py::test_more_bad_input_is_one_line_with_exit_2",
         "tests/test_safety.py::test_rates_are_read_per_unit",
         "tests/test_safety.py::test_a_rate_that_is_no_rate_is_bad_input"),
        critical=("refuse_live_mode",),
    ),
    # The entry point's exit codes and its guess at what may be the key; the rest of cli.py is plumbing of flags
    # into settings.py, whose refusals the settings row judges.
    Target(
        "conformance/cli.py",
        ("tests/test_cli_main.py",
         "tests/test_secrets.py::test_a_key_given_where_its_file_belongs_is_not_echoed_as_a_path",
         "tests/test_one_line.py::test_an_internal_error_is_one_redacted_line_and_never_a_pass"),
        target=1.0,
        only=("main", "_possible_secrets", "_reads_as_a_path", "_flag_values_that_may_be_keys", "_may_name_the_key",
              "_redacted_terminal"),
    ),
    # The registry and each family of checks (checks.py until issue 21 split it), judged by the same tests.
    Target("conformance/checks/registry.py", CHECK_TESTS),
    Target("conformance/checks/response.py", CHECK_TESTS),
    Target("conformance/checks/auth.py", CHECK_TESTS),
    Target("conformance/checks/resource.py", CHECK_TESTS),
    Target("conformance/checks/errors.py", CHECK_TESTS),
    Target(
        "conformance/ledger.py",
        ("tests/test_ledger.py", "tests/test_checks.py"),
        # The run's verdict, from which the exit code follows (the ledger's exit codes map it one to one).
        critical=("run_status", "_run_status", "status", "check_status"),
    ),
    # Wire-level tests only: test_detection.py's whole-gate runs take 20 s a mutant and judge the same code.
    Target("conformance/transport/wire.py", (*WIRE_TESTS,
           "tests/test_detection.py::test_each_break_of_http_syntax_in_a_head_is_named",
           "tests/test_detection.py::test_valid_but_unusual_heads_have_no_problem",
           "tests/test_broken_answers.py")),
    Target("conformance/transport/connections.py", (*WIRE_TESTS,
           "tests/test_detection_classes.py::test_path_syntax_reaches_the_server_as_written")),
    Target("conformance/transport/failures.py", (*WIRE_TESTS, "tests/test_broken_answers.py")),
    Target("conformance/transport/sending.py", (*WIRE_TESTS, "tests/test_broken_answers.py")),
    Target("conformance/transport/policy.py", (*WIRE_TESTS,
           "tests/test_detection.py::test_retry_after_is_read_as_seconds_bounded_and_defaulted",
           "tests/test_detection.py::test_retry_after_as_an_http_date_waits_until_that_date",
           "tests/test_broken_answers.py")),
    Target("conformance/transport/client.py", WIRE_TESTS),
    # The connection a recording reads through (vcr_patches) is judged by recording a gzip server.
    Target("conformance/transport/recording.py",
           ("tests/test_cassettes.py::test_the_key_is_scrubbed_wherever_the_server_echoes_it",)),
    Target("conformance/credentials.py", (*WIRE_TESTS,
           "tests/test_detection.py::test_the_key_probes_never_send_the_key_itself_and_show_no_near_miss",
           "tests/test_detection_classes.py::test_near_misses_are_made_from_the_key_structure_and_each_is_redacted_like_the_key",
           "tests/test_cassette_units.py",
           "tests/test_echoed_secrets.py::test_the_record_the_engine_returns_holds_no_form_of_an_echoed_key")),
    Target("conformance/cassettes.py", ("tests/test_cassette_units.py", "tests/test_cassettes.py")),
    Target(
        "conformance/report.py",
        ("tests/test_report_record.py", "tests/test_reports.py", "tests/test_report_page.py",
         "tests/test_hostile_bytes.py::test_a_record_of_any_text_renders_inert_in_every_format",
         "tests/test_hostile_bytes.py::test_a_saved_summary_edited_to_hold_raw_controls_is_rendered_inert_in_every_format"),
    ),
    # What a hostile target's bytes become in every output.
    Target(
        "conformance/neutral.py",
        ("tests/test_hostile_bytes.py::test_each_kind_of_active_character_is_shown_as_its_escape",
         "tests/test_hostile_bytes.py::test_noncharacters_are_escaped_and_their_neighbours_are_not",
         "tests/test_hostile_bytes.py::test_an_escape_is_as_long_as_the_code_point_needs",
         "tests/test_hostile_bytes.py::test_printable_text_in_any_script_is_left_as_it_is",
         "tests/test_hostile_bytes.py::test_the_rule_leaves_nothing_active_and_changes_nothing_the_second_time",
         "tests/test_hostile_bytes.py::test_the_terminal_stream_shows_control_characters_escaped_whoever_writes_them"),
        target=1.0,
    ),
    Target(
        "conformance/selftest.py",
        ("tests/test_selftest.py::test_the_printed_table_shows_each_variant_in_aligned_columns_and_the_score",
         "tests/test_selftest.py::test_the_sdk_oracle_lists_each_body_the_spec_and_the_sdk_judge_differently",
         "tests/test_selftest.py::test_a_judged_variant_lists_exactly_the_failed_and_the_warned_checks_of_its_run",
         "tests/test_selftest.py::test_a_conformant_variant_judged_passes_with_nothing_caught",
         "tests/test_selftest.py::test_a_variant_that_breaks_the_gate_is_scored_could_not_judge_never_caught",
         "tests/test_selftest.py::test_a_selftest_of_two_variants_prints_a_line_for_each_and_writes_its_whole_record",
         ("tests/test_selftest.py::"
          "test_only_a_failed_run_catches_a_fault_and_only_a_passing_run_clears_a_conformant_variant"),
         "tests/test_selftest.py::test_the_score_counts_misses_and_false_alarms",
         "tests/test_selftest.py::test_the_kill_rate_is_a_share_kept_to_four_places",
         "tests/test_selftest.py::test_a_conformant_variant_the_gate_fails_is_a_false_alarm_and_fails_the_selftest",
         "tests/test_selftest.py::test_a_fault_the_gate_misses_lowers_the_kill_rate_and_fails_the_selftest",
         "tests/test_selftest.py::test_ctrl_c_stops_the_selftest_without_judging_the_variants_still_queued",
         "tests/test_selftest.py::test_the_schemathesis_oracle_judges_beside_the_gate_in_every_judged_variant",
         "tests/test_selftest.py::test_an_error_while_judging_ends_the_running_variant_at_once",
         "tests/test_selftest.py::test_the_sdk_oracle_lists_a_body_only_the_sdk_rejects_and_reads_only_200_replies"),
        critical=("judged_as_a_correct_gate_would", "score", "passed"),
    ),
)  # fmt: skip

# Cosmic Ray operators left out, as regular expressions over operator names, each with why.
EXCLUDED_OPERATORS = {
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$": (
        "`==` to `is` against a literal decides by CPython's small-int and string caches, not by our code"
    ),
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Eq|NotEq)$": (
        "we use `is` only with None, enum members, modules and exceptions, where == is identity"
    ),
}
# Places in the code where no mutant can change behaviour, each with why.
NOISE = {
    "annotation": "a type annotation, never evaluated under `from __future__ import annotations`",
    "type-checking": "an `if TYPE_CHECKING:` block, imports for the type checker only",
}
