"""Time phrases resolve to calendar ranges against a fixed reference, never the clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alma_graph.errors import ValidationError
from alma_graph.timephrases import TimeRange, asks_when, mentions_time, resolve

UTC = timezone.utc
REF = datetime(2024, 3, 14, 15, 30, tzinfo=UTC)  # a Thursday in a leap year


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.mark.parametrize("phrase, since, until", [
    ("today", day(2024, 3, 14), day(2024, 3, 15)),
    ("yesterday", day(2024, 3, 13), day(2024, 3, 14)),
    ("the day before yesterday", day(2024, 3, 12), day(2024, 3, 13)),
    ("this week", day(2024, 3, 11), day(2024, 3, 18)),
    ("last week", day(2024, 3, 4), day(2024, 3, 11)),
    ("last weekend", day(2024, 3, 9), day(2024, 3, 11)),
    ("this month", day(2024, 3, 1), day(2024, 4, 1)),
    ("last month", day(2024, 2, 1), day(2024, 3, 1)),
    ("last year", day(2023, 1, 1), day(2024, 1, 1)),
    ("2 days ago", day(2024, 3, 12), day(2024, 3, 13)),
    ("two weeks ago", day(2024, 2, 26), day(2024, 3, 4)),
    ("3 weeks ago", day(2024, 2, 19), day(2024, 2, 26)),
    ("a month ago", day(2024, 2, 1), day(2024, 3, 1)),
    ("14 months ago", day(2023, 1, 1), day(2023, 2, 1)),
    ("in March", day(2024, 3, 1), day(2024, 4, 1)),
    ("in April", day(2023, 4, 1), day(2023, 5, 1)),
    ("last March", day(2023, 3, 1), day(2023, 4, 1)),
    ("March 2023", day(2023, 3, 1), day(2023, 4, 1)),
    ("in Feb 2024", day(2024, 2, 1), day(2024, 3, 1)),
    ("2023", day(2023, 1, 1), day(2024, 1, 1)),
    ("2023-05", day(2023, 5, 1), day(2023, 6, 1)),
    ("2023-05-07", day(2023, 5, 7), day(2023, 5, 8)),
    ("on 7 May, 2023", day(2023, 5, 7), day(2023, 5, 8)),
    ("the 1st of May 2022", day(2022, 5, 1), day(2022, 5, 2)),
    ("May 7", day(2023, 5, 7), day(2023, 5, 8)),  # no year: the most recent one
    ("Feb 29", day(2024, 2, 29), day(2024, 3, 1)),
    ("Monday", day(2024, 3, 11), day(2024, 3, 12)),
    ("Thursday", day(2024, 3, 14), day(2024, 3, 15)),  # today is a Thursday
    ("last Thursday", day(2024, 3, 7), day(2024, 3, 8)),
    ("last Friday", day(2024, 3, 8), day(2024, 3, 9)),
    ("between 2023-01-01 and March 2023", day(2023, 1, 1), day(2023, 4, 1)),
    ("from January to February", day(2024, 1, 1), day(2024, 3, 1)),
])
def test_a_phrase_names_a_calendar_range(phrase, since, until):
    assert resolve(phrase, REF) == TimeRange(since, until)


@pytest.mark.parametrize("phrase, since", [
    ("since Monday", day(2024, 3, 11)),
    ("since yesterday", day(2024, 3, 13)),
    ("past 3 days", day(2024, 3, 11)),
    ("in the last 7 days", day(2024, 3, 7)),
    ("past week", day(2024, 3, 7)),
    ("past month", day(2024, 2, 14)),
    ("after 2023", day(2024, 1, 1)),
])
def test_open_ended_phrases_run_on_from_their_start(phrase, since):
    assert resolve(phrase, REF) == TimeRange(since, None)


def test_before_ends_where_the_period_starts_and_until_where_it_ends():
    assert resolve("before March 2023", REF) == TimeRange(None, day(2023, 3, 1))
    assert resolve("until March 2023", REF) == TimeRange(None, day(2023, 4, 1))


def test_month_arithmetic_crosses_year_boundaries():
    new_year = datetime(2024, 1, 2, tzinfo=UTC)
    assert resolve("last month", new_year) == TimeRange(day(2023, 12, 1), day(2024, 1, 1))
    assert resolve("in December", new_year) == TimeRange(day(2023, 12, 1), day(2024, 1, 1))
    assert resolve("last week", new_year) == TimeRange(day(2023, 12, 25), day(2024, 1, 1))
    assert resolve("yesterday", datetime(2024, 3, 1, tzinfo=UTC)) == TimeRange(day(2024, 2, 29), day(2024, 3, 1))
    assert resolve("yesterday", datetime(2023, 3, 1, tzinfo=UTC)) == TimeRange(day(2023, 2, 28), day(2023, 3, 1))


def test_rolling_months_and_years_clamp_to_the_end_of_a_short_month():
    assert resolve("past month", datetime(2024, 3, 31, tzinfo=UTC)).since == day(2024, 2, 29)
    assert resolve("past month", datetime(2023, 3, 31, tzinfo=UTC)).since == day(2023, 2, 28)
    assert resolve("past year", datetime(2024, 2, 29, tzinfo=UTC)).since == day(2023, 2, 28)


def test_a_feb_29_with_no_year_is_the_last_leap_day():
    assert resolve("Feb 29", datetime(2025, 6, 1, tzinfo=UTC)).since == day(2024, 2, 29)


def test_weekday_arithmetic_on_a_monday_and_a_sunday():
    monday, sunday = datetime(2024, 3, 11, 9, tzinfo=UTC), datetime(2024, 3, 17, 9, tzinfo=UTC)
    assert resolve("since Monday", monday).since == day(2024, 3, 11)
    assert resolve("last Monday", monday).since == day(2024, 3, 4)
    assert resolve("this week", sunday) == TimeRange(day(2024, 3, 11), day(2024, 3, 18))
    assert resolve("Saturday", sunday).since == day(2024, 3, 16)


def test_the_reference_time_zone_sets_the_calendar():
    tokyo = timezone(timedelta(hours=9))
    late = datetime(2024, 3, 14, 23, 30, tzinfo=UTC)  # already 15 March in Tokyo
    found = resolve("today", late.astimezone(tokyo))
    assert found.since == datetime(2024, 3, 15, tzinfo=tokyo)
    assert resolve("today", datetime(2024, 3, 14, 23, 30)).since == day(2024, 3, 14)  # naive: UTC


@pytest.mark.parametrize("phrase", ["whenever", "last fortnight", "13 o'clock", "2023-13", "Feb 30 2023",
                                    "", "   ", "between March and", "99999999999 days ago", "9999"])
def test_an_unknown_phrase_is_an_error_naming_the_field(phrase):
    with pytest.raises(ValidationError) as caught:
        resolve(phrase, REF, field="when")
    assert caught.value.field == "when"


def test_a_range_that_ends_before_it_starts_is_an_error():
    with pytest.raises(ValidationError, match="starts after it ends"):
        resolve("between 2024 and 2023", REF)


def test_a_non_string_phrase_is_an_error():
    with pytest.raises(ValidationError):
        resolve(7, REF)


def test_questions_that_ask_for_a_time_are_recognised():
    assert asks_when("When did Caroline go to the support group?")
    assert asks_when("How long ago was her birthday?")
    assert asks_when("What date is the release?")
    assert not asks_when("What did Caroline paint?")


def test_texts_that_date_what_they_say_are_recognised():
    assert mentions_time("I went to a support group yesterday")
    assert mentions_time("we met up last weekend") and mentions_time("ten years ago")
    assert mentions_time("back in July 2022") and mentions_time("ran a race last Saturday")
    assert not mentions_time("I love painting sunsets")
