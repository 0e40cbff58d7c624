"""When an EventBridge Scheduler expression fires next (pure: no AWS, no clock of its own).

Scheduler evaluates `cron(...)` and `at(...)` in the schedule's time zone (wall-clock time, so a
cron at 03:00 stays at 03:00 local across daylight-saving changes) and counts `rate(...)` from
the schedule's start date, or from its creation when it has none. The doctor shows the next
start so an operator can see at a glance whether "weekly on Sunday" means what they think.

Cron fields, as Scheduler documents them: minutes hours day-of-month month day-of-week year;
day-of-week runs 1-7 = SUN-SAT; one of day-of-month and day-of-week is `?`. Supported:
`*`, `?`, lists, ranges, `/` steps, month and weekday names, `L` (last day of month; `5L` the
last Thursday), `W` (nearest weekday, `15W`, `LW`) and `#` (`2#1`, the first Monday).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ScheduleExpressionError", "next_start", "validate_expression", "zone"]

# A cron that matches no day within this many years never fires (e.g. cron(0 0 30 FEB ? *)).
SEARCH_YEARS = 5

_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_RATE = re.compile(r"^rate\((\d+)\s+([a-z]+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.+)\)$")


class ScheduleExpressionError(ValueError):
    """An expression this module cannot read (the message says which part)."""


def zone(name: str | None) -> tzinfo:
    """The IANA zone of a schedule; Scheduler's default is UTC."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleExpressionError(f"unknown time zone {name!r}") from None


def validate_expression(expression: str, time_zone: str | None = None) -> None:
    """Raises ScheduleExpressionError unless every part of `expression` reads as Scheduler documents it (for a
    cron: six fields in range, exactly one of the two day fields `?`) and `time_zone` is a known zone. Synth
    checks each schedule with it, so an expression that only the doctor would reject never deploys."""
    next_start(expression, time_zone, datetime(2000, 1, 1, tzinfo=UTC))


def next_start(
    expression: str,
    time_zone: str | None,
    now: datetime,
    *,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    created: datetime | None = None,
) -> datetime | None:
    """The first start strictly after `now` (UTC), or None if the schedule has none left."""
    tz = zone(time_zone)
    expression = expression.strip()
    after = max(now, start_date - timedelta(microseconds=1)) if start_date else now
    found: datetime | None
    if _RATE.match(expression):
        found = _next_rate(expression, after, start_date or created or now)
    elif _AT.match(expression):
        found = _next_at(expression, tz, after)
    elif _CRON.match(expression):
        found = _next_cron(expression, tz, after)
    else:
        raise ScheduleExpressionError(f"not a cron(...), rate(...) or at(...) expression: {expression!r}")
    if found is not None and end_date is not None and found > end_date:
        return None
    return found


def _next_rate(expression: str, after: datetime, anchor: datetime) -> datetime:
    match = _RATE.match(expression)
    assert match is not None
    value, unit = int(match.group(1)), match.group(2)
    if unit not in _RATE_UNITS or value < 1:
        raise ScheduleExpressionError(f"bad rate {expression!r}: expected N minute(s)|hour(s)|day(s), N >= 1")
    period = value * _RATE_UNITS[unit]
    if anchor > after:
        return anchor
    elapsed = (after - anchor).total_seconds()
    return anchor + timedelta(seconds=(int(elapsed // period) + 1) * period)


def _next_at(expression: str, tz: tzinfo, after: datetime) -> datetime | None:
    match = _AT.match(expression)
    assert match is not None
    try:
        local = datetime.fromisoformat(match.group(1))
    except ValueError:
        raise ScheduleExpressionError(f"bad date in {expression!r}") from None
    when = local.replace(tzinfo=tz).astimezone(UTC)
    return when if when > after else None


# --- cron -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_matches: Callable[[date], bool]
    months: frozenset[int]
    years: frozenset[int] | None  # None: every year


def _next_cron(expression: str, tz: tzinfo, after: datetime) -> datetime | None:
    cron = _parse_cron(expression)
    local_after = after.astimezone(tz)
    day = local_after.date()
    for _ in range(366 * SEARCH_YEARS):
        if _day_matches(cron, day):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)
                    if candidate > after:
                        return candidate
        day += timedelta(days=1)
    return None


def _day_matches(cron: _Cron, day: date) -> bool:
    if cron.years is not None and day.year not in cron.years:
        return False
    return day.month in cron.months and cron.day_matches(day)


def _parse_cron(expression: str) -> _Cron:
    match = _CRON.match(expression)
    assert match is not None
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ScheduleExpressionError(
            "cron needs 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}: {expression!r}"
        )
    minutes, hours, dom, months, dow, years = fields
    if (dom == "?") == (dow == "?"):
        # Scheduler: "If you specify a value or a * in one of the fields, you must use a ? in the other."
        raise ScheduleExpressionError(
            f"exactly one of day-of-month ({dom!r}) and day-of-week ({dow!r}) must be '?': {expression!r}"
        )
    dom_match = _day_of_month_matcher(dom)
    dow_match = _day_of_week_matcher(dow)
    return _Cron(
        minutes=_numbers(minutes, 0, 59, {}, "minutes"),
        hours=_numbers(hours, 0, 23, {}, "hours"),
        day_matches=lambda day: dom_match(day) and dow_match(day),
        months=_numbers(months, 1, 12, _MONTHS, "month"),
        years=None if years in ("*", "?") else _numbers(years, 1970, 2199, {}, "year"),
    )


def _numbers(field: str, low: int, high: int, names: dict[str, int], what: str) -> frozenset[int]:
    """`*`, `5`, `1,3`, `MON-FRI`, `0/15`, `10-40/10` as the set of values they cover."""
    values: set[int] = set()
    for part in field.upper().split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, 1, high, {}, what) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _number(first_text, low, high, names, what), _number(last_text, low, high, names, what)
        else:
            first = _number(base, low, high, names, what)
            last = high if step_text else first
        if first > last:
            raise ScheduleExpressionError(f"bad {what} range {part!r}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _number(text: str, low: int, high: int, names: dict[str, int], what: str) -> int:
    value = names.get(text) if text in names else int(text) if text.isdigit() else None
    if value is None or not low <= value <= high:
        raise ScheduleExpressionError(f"bad {what} value {text!r} (allowed {low}-{high})")
    return value


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _weekday(day: date) -> int:
    """Scheduler's numbering: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(day: date, target: int) -> int:
    """The day of month of the weekday nearest to `target`, never leaving the month (cron's W)."""
    target = min(target, _last_day(day))
    weekday = date(day.year, day.month, target).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, or Monday after on the 1st
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before on the last day
        return target + 1 if target < _last_day(day) else target - 2
    return target


def _day_of_month_matcher(field: str) -> Callable[[date], bool]:
    field = field.upper()
    if field in ("*", "?"):
        return lambda day: True
    if field == "L":
        return lambda day: day.day == _last_day(day)
    if field == "LW":
        return lambda day: day.day == _nearest_weekday(day, _last_day(day))
    if field.endswith("W"):
        target = _number(field[:-1], 1, 31, {}, "day-of-month")
        return lambda day: day.day == _nearest_weekday(day, target)
    days = _numbers(field, 1, 31, {}, "day-of-month")
    return lambda day: day.day in days


def _day_of_week_matcher(field: str) -> Callable[[date], bool]:
    field = field.upper()
    if field in ("*", "?"):
        return lambda day: True
    if field == "L":
        return lambda day: _weekday(day) == 7
    if field.endswith("L"):
        weekday = _number(field[:-1], 1, 7, _WEEKDAYS, "day-of-week")
        return lambda day: _weekday(day) == weekday and day.day + 7 > _last_day(day)
    if "#" in field:
        weekday_text, _, nth_text = field.partition("#")
        weekday = _number(weekday_text, 1, 7, _WEEKDAYS, "day-of-week")
        nth = _number(nth_text, 1, 5, {}, "day-of-week occurrence")
        return lambda day: _weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    weekdays = _numbers(field, 1, 7, _WEEKDAYS, "day-of-week")
    return lambda day: _weekday(day) in weekdays
