"""The sweep's request budget: what it makes of the sweep's concurrency, and how long a sweep then takes.

Pure arithmetic, for the stack's settings (infra/config.py) and infra/README.md's tables. The model, measured
nowhere: a run's ECR calls are latency-bound. Each of a run's ``ENFORCER_CONCURRENCY`` threads makes one call
after the other, so it keeps one call in flight (a "slot") and issues about 1 / round-trip requests a second;
a fanned-out sweep runs up to the sweep queue mapping's maximum concurrency of such runs at once. So a sweep
issues about mapping concurrency x in-run concurrency x :data:`SLOT_REQUESTS_PER_SECOND` requests a second,
and the budget bounds that product. Only reads are counted: a sweep that finds nothing to fix writes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import pairwise

from ecr_drift.aws.clients import DEFAULT_CONCURRENCY
from ecr_drift.aws.observe import NAMES_PER_CALL, PAGE_SIZE
from ecr_drift.settings import repository_settings

# One call in flight issues 1 / 50 ms = 20 requests a second. 50 ms is a quick round-trip for an ECR
# control-plane call from a Lambda in its region: assuming quick calls errs towards fewer slots, as slower
# calls (512 MB is a third of a vCPU; throttling, which botocore's adaptive retries slow further) only lower
# the real rate.
SLOT_REQUESTS_PER_SECOND = 20
# ECR publishes no rates for the reads a sweep makes; the one sustained rate its documentation states is
# GetAuthorizationToken's 20 requests/s. 40 is the least a fanned-out sweep can keep to (two batches at once,
# the fewest an SQS mapping allows, one call in flight each) and spreads over three read actions, ~13/s
# each: below that documented rate, with room for the people and tools sharing the account's limits.
DEFAULT_REQUESTS_PER_SECOND = 40
# An SQS event source mapping's maximum concurrency lies within these bounds.
MIN_MAPPING_CONCURRENCY = 2
MAX_MAPPING_CONCURRENCY = 1000
# The in-run concurrency the budget buys goes up to the handler's own default: beyond it a 512 MB function's
# share of a vCPU, not the round-trips, bounds the rate; the mapping's concurrency takes the rest.
MAX_DERIVED_IN_RUN_CONCURRENCY = DEFAULT_CONCURRENCY

_RATE = re.compile(r"^rate\(([1-9][0-9]*) (minute|hour|day)s?\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_CRON_PART = re.compile(r"^(\*|[0-9]+)(?:-([0-9]+))?(?:/([1-9][0-9]*))?$")
_UNIT_SECONDS = {"minute": 60, "hour": 3_600, "day": 86_400}
_DAY_MINUTES = 1_440


@dataclass(frozen=True)
class Split:
    """How a sweep spends its budget. ``mapping_concurrency``: None without fan-out (the sweep is one run)."""

    mapping_concurrency: int | None
    in_run_concurrency: int

    @property
    def requests_per_second(self) -> int:
        """What the sweep issues at most, by the model."""
        return (self.mapping_concurrency or 1) * self.in_run_concurrency * SLOT_REQUESTS_PER_SECOND


def split(
    requests_per_second: int, *, fan_out: bool, mapping: int | None = None, in_run: int | None = None
) -> Split:
    """The concurrencies within ``requests_per_second``: the in-run concurrency as large as the budget allows
    beside the fewest batches at once (up to :data:`MAX_DERIVED_IN_RUN_CONCURRENCY`), then the mapping's as
    large as the rest allows. ``mapping`` and ``in_run`` are overrides, kept as given. Never below the least
    a sweep runs with, so a budget too small for it gives a split over budget (``requests_per_second``)."""
    slots = requests_per_second // SLOT_REQUESTS_PER_SECOND
    runs = (mapping or MIN_MAPPING_CONCURRENCY) if fan_out else 1
    if in_run is None:
        in_run = max(1, min(MAX_DERIVED_IN_RUN_CONCURRENCY, slots // runs))
    if not fan_out:
        return Split(None, in_run)
    if mapping is None:
        mapping = max(MIN_MAPPING_CONCURRENCY, min(MAX_MAPPING_CONCURRENCY, slots // in_run))
    return Split(mapping, in_run)


def repository_reads() -> int:
    """The ECR reads a repository costs when every repository setting is managed: each distinct read the
    settings declare, made once per repository however many settings share it (ecr_drift.drift's
    ``repository_reads``)."""
    return len({read for setting in repository_settings() for read in setting.reads})


def requests_per_repository(*, fan_out: bool) -> float:
    """A sweep's ECR requests per repository: its reads, its share of the listing (DescribeRepositories, a
    page of :data:`PAGE_SIZE`) and, with fan-out, of its batch's describing it again (:data:`NAMES_PER_CALL`
    names a call)."""
    batch = 1 / NAMES_PER_CALL if fan_out else 0
    return repository_reads() + 1 / PAGE_SIZE + batch


def sweep_seconds(repositories: int, per_repository: float, requests_per_second: int) -> float:
    """Repositories x requests per repository / requests per second."""
    return repositories * per_repository / requests_per_second


def schedule_interval_seconds(expression: str) -> int | None:
    """The shortest time between two firings of an EventBridge schedule, or None when not known.

    ``rate(...)`` is exact. ``cron(...)`` is read from its minute and hour fields (numbers, ``*``, ``,``,
    ``-``, ``/``), as if it fired every day: its day fields are not read, so a schedule that skips days is
    taken for a daily one. None for any other cron(...) expression.
    """
    if rate := _RATE.match(expression):
        return int(rate[1]) * _UNIT_SECONDS[rate[2]]
    cron = _CRON.match(expression)
    fields = cron[1].split() if cron else []
    if len(fields) != 6:
        return None
    minutes = _cron_values(fields[0], 59)
    hours = _cron_values(fields[1], 23)
    if minutes is None or hours is None:
        return None
    firings = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    # The gaps within a day, and from the day's last firing to the next day's first.
    gaps = [later - earlier for earlier, later in pairwise(firings)]
    return min([*gaps, firings[0] + _DAY_MINUTES - firings[-1]]) * 60


def _cron_values(field: str, highest: int) -> set[int] | None:
    """The values a cron minute or hour field names (``highest``: 59 or 23); None if it is not read."""
    values: set[int] = set()
    for part in field.split(","):
        match = _CRON_PART.match(part)
        if match is None or (match[1] == "*" and match[2] is not None):
            return None
        start = 0 if match[1] == "*" else int(match[1])
        step = int(match[3] or 1)
        # `*`, `a/step` run to the field's end, `a-b` to b, a single value to itself.
        end = int(match[2]) if match[2] else highest if match[1] == "*" or match[3] else start
        if not start <= end <= highest:
            return None
        values.update(range(start, end + 1, step))
    return values


def format_duration(seconds: float) -> str:
    """Seconds (rounded up) as `45 s`, `12 min 33 s` or `2 h 6 min`: what the README and messages print."""
    whole = math.ceil(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3_600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(math.ceil(whole / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
