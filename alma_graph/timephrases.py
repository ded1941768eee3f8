"""Relative time phrases ("last week", "in March", "2 days ago") read against a reference time.

    >>> from datetime import datetime, timezone
    >>> ref = datetime(2024, 3, 14, 15, 0, tzinfo=timezone.utc)  # a Thursday
    >>> resolve("last week", ref)
    TimeRange(since=datetime.datetime(2024, 3, 4, 0, 0, tzinfo=datetime.timezone.utc), until=datetime.datetime(2024, 3, 11, 0, 0, tzinfo=datetime.timezone.utc))

A phrase becomes a `TimeRange`: `since` inclusive, `until` exclusive, either open (None).
Calendar words name whole calendar units in the reference's time zone (UTC when it has none):
weeks run Monday to Sunday, "3 weeks ago" is the week that held the day 21 days back, "in March"
is the most recent March that began on or before the reference. "past 3 days" and "since Monday"
run from their start with no end, as does "after X"; "before X" ends where X starts.

Pure: no clock is read here; the caller passes the reference.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .errors import ValidationError

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple": 2, "a couple": 2}
UNITS = ("day", "week", "month", "year")
EXAMPLES = ("today", "yesterday", "last week", "this month", "in March", "March 2023", "2 days ago",
            "past 3 weeks", "since Monday", "last year", "between 2023-01-01 and March 2023")

_NUMBER = r"(\d+|a couple|couple|an|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_UNIT = r"(day|week|month|year)s?"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(WEEKDAYS)
_ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b")

# Words that place an utterance in time: a turn that says "last Friday" or "in June 2022" dates
# what it reports once its own timestamp is known. Used to favour such items for "when" questions.
TIME_EXPRESSION = re.compile(
    rf"\b(yesterday|today|tonight|tomorrow|ago|recently|lately|"
    rf"(last|this|next|past|previous|coming)\s+(night|weekend|week|month|year|summer|winter|spring|fall|autumn|"
    rf"{_WEEKDAY})|{_WEEKDAY}|(january|february|march|april|june|july|august|september|october|november|december)|"
    rf"(19|20)\d\d|\d{{4}}-\d\d-\d\d)\b",
    re.IGNORECASE,
)
TEMPORAL_QUESTION = re.compile(
    r"\b(when|what (date|day|time|year|month|week)|which (date|day|year|month|week)|how long|"
    r"how many (days|weeks|months|years)|since when)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TimeRange:
    since: datetime | None  # inclusive
    until: datetime | None  # exclusive


def resolve(phrase: object, reference: datetime, field: str = "when") -> TimeRange:
    """The time range `phrase` names, read at `reference`; a ValidationError naming `field` if
    the phrase is not one this module reads."""
    if not isinstance(phrase, str) or not phrase.strip():
        raise ValidationError(field, f"expected a time phrase such as {', '.join(EXAMPLES[:4])}, got {phrase!r}")
    if not isinstance(reference, datetime):
        raise ValidationError("reference", f"expected a datetime, got {type(reference).__name__}")
    zone = reference.tzinfo or timezone.utc
    today = reference.astimezone(zone).date() if reference.tzinfo else reference.date()
    try:
        found = _Reader(today, zone).range(_normalise(phrase))
    except (ValueError, OverflowError):  # a date outside the calendar: year 10000, 10**9 days ago
        found = None
    if found is None:
        raise ValidationError(field, f"cannot read {phrase!r} as a time; phrases read include "
                                     f"{', '.join(repr(e) for e in EXAMPLES)}")
    if found.since is not None and found.until is not None and found.since >= found.until:
        raise ValidationError(field, f"{phrase!r} starts after it ends")
    return found


def asks_when(question: str) -> bool:
    """Whether a question asks for a time: when, what date, how long ago, ..."""
    return bool(TEMPORAL_QUESTION.search(question))


def mentions_time(text: str) -> bool:
    """Whether a text places what it says in time (a date, a weekday, "last week", "ago")."""
    return bool(TIME_EXPRESSION.search(text))


def _normalise(phrase: str) -> str:
    text = _ORDINAL.sub(r"\1", phrase.lower().strip().rstrip("?.!"))
    text = re.sub(r"[,]", " ", text)
    words = [w for w in text.split() if w not in ("the", "of")]
    while words and words[0] in ("in", "on", "during", "earlier", "later", "at"):
        words = words[1:]
    return " ".join(words)


class _Reader:
    def __init__(self, today: date, zone: object):
        self.today = today
        self.zone = zone

    def at(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.zone)  # type: ignore[arg-type]

    def days(self, first: date, after_last: date) -> TimeRange:
        return TimeRange(self.at(first), self.at(after_last))

    def range(self, text: str) -> TimeRange | None:
        for pattern, make in (
            (r"(?:between|from) (.+?) (?:and|to|until) (.+)", self._between),
            (r"(?:since|from) (.+)", lambda x: self._open(x, start=True)),
            (r"after (.+)", lambda x: self._open(x, start=False)),
            (r"before (.+)", lambda x: self._close(x, end=False)),
            (r"until (.+)", lambda x: self._close(x, end=True)),
        ):
            m = re.fullmatch(pattern, text)
            if m:
                return make(*m.groups())
        return self.period(text)

    def _between(self, first: str, last: str) -> TimeRange | None:
        a, b = self.period(first), self.period(last)
        return None if a is None or b is None else TimeRange(a.since, b.until)

    def _open(self, text: str, start: bool) -> TimeRange | None:
        p = self.period(text)
        return None if p is None else TimeRange(p.since if start else p.until, None)

    def _close(self, text: str, end: bool) -> TimeRange | None:
        p = self.period(text)
        return None if p is None else TimeRange(None, p.until if end else p.since)

    def period(self, text: str) -> TimeRange | None:
        """A bounded calendar period: a day, a week, a month, a year or a rolling window."""
        today = self.today
        fixed = {"today": 0, "now": 0, "yesterday": 1, "day before yesterday": 2, "tomorrow": -1}
        if text in fixed:
            day = today - timedelta(days=fixed[text])
            return self.days(day, day + timedelta(days=1))
        m = re.fullmatch(r"(this|last|previous|next) (day|week|weekend|month|year)", text)
        if m:
            shift = {"this": 0, "last": -1, "previous": -1, "next": 1}[m.group(1)]
            return self.unit(m.group(2), shift)
        m = re.fullmatch(rf"{_NUMBER} {_UNIT} ago", text)
        if m:
            return self.unit(m.group(2), -_count(m.group(1)))
        m = re.fullmatch(rf"(?:past|last) (?:{_NUMBER} )?{_UNIT}", text)
        if m:
            n = _count(m.group(1)) if m.group(1) else 1
            return TimeRange(self.at(_shift(today, m.group(2), -n)), None)
        m = re.fullmatch(rf"(last |this )?({_WEEKDAY})", text)
        if m:
            back = (today.weekday() - WEEKDAYS[m.group(2)]) % 7
            if m.group(1) == "last " and back == 0:
                back = 7
            day = today - timedelta(days=back)
            return self.days(day, day + timedelta(days=1))
        m = re.fullmatch(rf"(last |this )?({_MONTH})", text)
        if m:
            month = MONTHS[m.group(2)]
            year = today.year if month <= today.month else today.year - 1
            if m.group(1) == "last " and month == today.month:
                year -= 1
            return self.month(year, month)
        return self.calendar_date(text)

    def calendar_date(self, text: str) -> TimeRange | None:
        m = re.fullmatch(r"(\d{4})", text)
        if m:
            return self.days(date(int(m.group(1)), 1, 1), date(int(m.group(1)) + 1, 1, 1))
        m = re.fullmatch(r"(\d{4})-(\d\d)", text)
        if m and 1 <= int(m.group(2)) <= 12:
            return self.month(int(m.group(1)), int(m.group(2)))
        m = re.fullmatch(rf"({_MONTH}) (\d{{4}})", text)
        if m:
            return self.month(int(m.group(2)), MONTHS[m.group(1)])
        m = (re.fullmatch(r"(?P<y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)", text)
             or re.fullmatch(rf"(?P<name>{_MONTH}) (?P<d>\d{{1,2}})(?: (?P<y>\d{{4}}))?", text)
             or re.fullmatch(rf"(?P<d>\d{{1,2}}) (?P<name>{_MONTH})(?: (?P<y>\d{{4}}))?", text))
        if not m:
            return None
        parts = m.groupdict()
        month = MONTHS[parts["name"]] if parts.get("name") else int(parts["m"])
        day = int(parts["d"])
        if parts.get("y"):
            found = _date(int(parts["y"]), month, day)
        else:  # "May 7": the most recent one (a leap day may be years back)
            found = next((d for y in range(self.today.year, self.today.year - 9, -1)
                          if (d := _date(y, month, day)) and d <= self.today), None)
        return None if found is None else self.days(found, found + timedelta(days=1))

    def month(self, year: int, month: int) -> TimeRange:
        after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return self.days(date(year, month, 1), after)

    def unit(self, unit: str, shift: int) -> TimeRange:
        """The calendar `unit` (day, week, weekend, month, year) `shift` units from today's."""
        today = self.today
        if unit == "day":
            day = today + timedelta(days=shift)
            return self.days(day, day + timedelta(days=1))
        if unit in ("week", "weekend"):
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
            first = monday + timedelta(days=5) if unit == "weekend" else monday
            return self.days(first, monday + timedelta(days=7))
        if unit == "month":
            index = today.year * 12 + today.month - 1 + shift
            return self.month(index // 12, index % 12 + 1)
        return self.days(date(today.year + shift, 1, 1), date(today.year + shift + 1, 1, 1))


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]


def _shift(day: date, unit: str, n: int) -> date:
    """`day` moved by n units; a month or year shift keeps the day, clamped to the month's end
    (31 March - 1 month is 29 February in a leap year)."""
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    months = n * (12 if unit == "year" else 1)
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
