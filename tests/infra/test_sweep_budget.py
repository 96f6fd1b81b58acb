"""The sweep's request budget (infra/sweep_budget.py): the split, the reads it counts, schedules, durations,
and infra/README.md's tables, which must be what these functions give."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecr_drift.desired import DesiredState, resolve
from ecr_drift.drift import desired_repository, repository_reads
from infra import sweep_budget
from infra.sweep_budget import (
    DEFAULT_REQUESTS_PER_SECOND,
    MAX_DERIVED_IN_RUN_CONCURRENCY,
    MAX_MAPPING_CONCURRENCY,
    MIN_MAPPING_CONCURRENCY,
    SLOT_REQUESTS_PER_SECOND,
    Split,
    format_duration,
    requests_per_repository,
    schedule_interval_seconds,
    split,
    sweep_seconds,
)
from tests.infra.conftest import INFRA

README_REPOSITORIES = (1_000, 10_000, 100_000)
# The default, twice it, and what the former defaults (2 batches x 8 calls in flight) amounted to.
README_BUDGETS = (DEFAULT_REQUESTS_PER_SECOND, 80, 320)
README_SPLITS = (DEFAULT_REQUESTS_PER_SECOND, 80, 160, 320, 640, 1_000)


# ---- the split ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (40, Split(2, 1)),  # the default: the least a fanned-out sweep runs with
        (50, Split(2, 1)),  # a budget between splits keeps to the one below it
        (80, Split(2, 2)),
        (100, Split(2, 2)),
        (160, Split(2, 4)),
        (320, Split(2, 8)),  # the former defaults
        (640, Split(4, 8)),  # beyond 8 calls in flight, more batches at once
        (1_000, Split(6, 8)),
        (10**9, Split(MAX_MAPPING_CONCURRENCY, 8)),
    ],
)
def test_the_budget_buys_calls_in_flight_first_then_batches(budget: int, expected: Split) -> None:
    assert split(budget, fan_out=True) == expected


@given(st.integers(min_value=MIN_MAPPING_CONCURRENCY * SLOT_REQUESTS_PER_SECOND, max_value=10**6))
def test_a_derived_split_keeps_within_its_budget_and_the_mappings_bounds(budget: int) -> None:
    derived = split(budget, fan_out=True)
    assert derived.requests_per_second <= budget
    assert derived.mapping_concurrency is not None
    assert MIN_MAPPING_CONCURRENCY <= derived.mapping_concurrency <= MAX_MAPPING_CONCURRENCY
    assert 1 <= derived.in_run_concurrency <= MAX_DERIVED_IN_RUN_CONCURRENCY
    # No slot the budget pays for is left over, unless the mapping is at its maximum.
    if derived.mapping_concurrency < MAX_MAPPING_CONCURRENCY:
        assert budget - derived.requests_per_second < derived.in_run_concurrency * SLOT_REQUESTS_PER_SECOND


def test_without_fan_out_the_sweep_is_one_run_and_the_budget_its_calls_in_flight() -> None:
    assert split(20, fan_out=False) == Split(None, 1)
    assert split(DEFAULT_REQUESTS_PER_SECOND, fan_out=False) == Split(None, 2)
    assert split(10_000, fan_out=False) == Split(None, MAX_DERIVED_IN_RUN_CONCURRENCY)
    assert split(10_000, fan_out=False, mapping=5) == Split(None, MAX_DERIVED_IN_RUN_CONCURRENCY)


def test_overrides_are_kept_and_the_other_concurrency_takes_what_is_left() -> None:
    assert split(120, fan_out=True, mapping=3) == Split(3, 2)
    assert split(320, fan_out=True, in_run=2) == Split(8, 2)
    assert split(320, fan_out=True, mapping=2, in_run=16) == Split(2, 16)  # kept, over budget


def test_a_budget_too_small_gives_the_least_split_over_budget() -> None:
    """What the settings report, with what the budget would need."""
    assert split(20, fan_out=True) == Split(2, 1)
    assert split(20, fan_out=True).requests_per_second == 40
    assert split(80, fan_out=True, in_run=4).requests_per_second == 160
    assert split(40, fan_out=True, mapping=3).requests_per_second == 60
    assert split(0, fan_out=False).requests_per_second == SLOT_REQUESTS_PER_SECOND


# ---- requests per repository -------------------------------------------------------------------------------


def test_a_repository_costs_the_distinct_reads_of_its_settings() -> None:
    assert (
        sweep_budget.repository_reads() == 3
    )  # GetLifecyclePolicy, GetRepositoryPolicy, ListTagsForResource
    # The listing's share (1000 a page), and with fan-out the batch's describing it again (100 a call).
    assert requests_per_repository(fan_out=False) == pytest.approx(3.001)
    assert requests_per_repository(fan_out=True) == pytest.approx(3.011)


def test_the_example_desired_states_repositories_need_every_read_counted(example_state: DesiredState) -> None:
    """The count is every repository setting managed: what the example's repositories need, not more."""
    reads = {
        name: repository_reads(desired_repository(example_state, resolved))
        for name in example_state.repositories
        if (resolved := resolve(example_state, name)) is not None
    }
    assert reads
    assert max(len(r) for r in reads.values()) == sweep_budget.repository_reads()


def test_sweep_seconds_is_repositories_times_requests_over_the_rate() -> None:
    assert sweep_seconds(1_000, 3.011, 40) == pytest.approx(75.275)
    assert sweep_seconds(100_000, 3.011, 320) == pytest.approx(940.9375)


# ---- schedules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3_600),
        ("rate(6 hours)", 21_600),
        ("rate(2 days)", 172_800),
        ("cron(0 * * * ? *)", 3_600),
        ("cron(0/15 * * * ? *)", 900),
        ("cron(*/10 * * * ? *)", 600),
        ("cron(5,55 * * * ? *)", 600),  # 55 to the next hour's 5
        ("cron(0 9-17 ? * MON-FRI *)", 3_600),
        ("cron(0 8,20 * * ? *)", 43_200),
        ("cron(0 6-18/4 * * ? *)", 14_400),  # 6, 10, 14, 18; then 12 h to the next day's 6
        ("cron(30 2 * * ? *)", 86_400),
        ("cron(30 2 ? * SUN *)", 86_400),  # the day fields are not read: taken for a daily schedule
    ],
)
def test_the_shortest_interval_of_a_schedule(expression: str, seconds: int) -> None:
    assert schedule_interval_seconds(expression) == seconds


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 * * *)",  # not six fields
        "cron(0 25 * * ? *)",
        "cron(10-5 * * * ? *)",
        "cron(*-5 * * * ? *)",
        "cron(0/0 * * * ? *)",
        "cron(L * * * ? *)",
        "rate(2 weeks)",
        "every hour",
    ],
)
def test_a_schedule_it_does_not_read_has_no_interval(expression: str) -> None:
    assert schedule_interval_seconds(expression) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "1 s"),
        (59, "59 s"),
        (60, "1 min"),
        (75.275, "1 min 16 s"),
        (3_600, "1 h"),
        (7_527.5, "2 h 6 min"),
    ],
)
def test_durations_read_as_the_readme_prints_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# ---- infra/README.md ---------------------------------------------------------------------------------------


def duration_table() -> str:
    """Sweep durations with fan-out, at the rate each budget's split reaches (the budget itself here)."""
    per_repository = requests_per_repository(fan_out=True)
    headers = [f"`{b}`" + (" (default)" if b == DEFAULT_REQUESTS_PER_SECOND else "") for b in README_BUDGETS]
    rows = [
        [f"{n:,}", *(format_duration(sweep_seconds(n, per_repository, b)) for b in README_BUDGETS)]
        for n in README_REPOSITORIES
    ]
    return _table(["repositories", *headers], rows)


def split_table() -> str:
    splits = {budget: split(budget, fan_out=True) for budget in README_SPLITS}
    rows = [
        [f"`{budget}`", str(s.mapping_concurrency), str(s.in_run_concurrency), str(s.requests_per_second)]
        for budget, s in splits.items()
    ]
    headers = [
        "`sweepRequestsPerSecond`",
        "batches at once (`sweepMaximumConcurrency`)",
        "calls in flight per run (`enforcerConcurrency`)",
        "requests/s",
    ]
    return _table(headers, rows)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def test_the_readme_budget_tables_are_what_the_functions_give() -> None:
    readme = (INFRA / "README.md").read_text()
    for table in (duration_table(), split_table()):
        assert table in readme, f"infra/README.md should hold this table:\n{table}"
    # The budgets the tables show are ones the split spends in full, so its durations are the budget's.
    assert all(split(b, fan_out=True).requests_per_second == b for b in README_BUDGETS)
    assert f"{requests_per_repository(fan_out=True):g}" in readme
    assert f"{requests_per_repository(fan_out=False):g}" in readme
