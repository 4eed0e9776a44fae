"""Dates: explicit mentions, weekdays resolved against the publication date, no invented years."""

from datetime import date

from qa.dates import (
    dateline,
    find_dates,
    format_date,
    resolve_weekday,
    resolved_day_offsets,
    resolved_weekdays,
    with_year,
)

THURSDAY = date(2023, 5, 4)


def test_weekdays_in_a_thursday_report_are_the_days_just_past():
    assert resolve_weekday("Monday", THURSDAY) == date(2023, 5, 1)
    assert resolve_weekday("Sunday", THURSDAY) == date(2023, 4, 30)
    assert resolve_weekday("Wednesday", THURSDAY) == date(2023, 5, 3)
    assert resolve_weekday("Thursday", THURSDAY) == THURSDAY


def test_weekdays_that_look_ahead_are_the_days_to_come():
    assert resolve_weekday("Friday", THURSDAY, preceding="the ministers will meet on ") == date(2023, 5, 5)
    assert resolve_weekday("Monday", THURSDAY, modifier="next ") == date(2023, 5, 8)
    since = resolve_weekday("Sunday", THURSDAY, preceding="expected to conclude, held since ")
    assert since == date(2023, 4, 30)


def test_no_weekday_is_resolved_without_a_publication_date():
    assert resolved_weekdays("On Monday, Blinken met them.", None) == []
    [monday] = resolved_weekdays("On Monday, Blinken met them.", THURSDAY)
    assert (monday.text, monday.day) == ("Monday", date(2023, 5, 1))


def test_dates_without_a_year_keep_no_year():
    mentions = find_dates("on November 7 at Blair House; June 27-29, 2023; 7 Nov. 2022; 2023-05-04")
    assert [(m.month, m.day, m.year) for m in mentions] == [
        (11, 7, None), (6, 27, 2023), (11, 7, 2022), (5, 4, 2023)]
    assert mentions[1].last_day == 29


def test_words_that_look_like_months_are_not_dates():
    assert find_dates("Azerbaijan may use the reports as a pretext") == []
    assert find_dates("a 2020 war") == []


def test_format_date():
    assert format_date(date(2023, 5, 1)) == "Monday, May 1, 2023"
    assert format_date(date(2023, 5, 1), weekday=False) == "May 1, 2023"


def test_the_next_day_is_resolved_against_the_date_before_it():
    [(phrase, day)] = resolved_day_offsets(
        "Ned Price told a news briefing the next day", before="talks in Washington on November 7, ")
    assert (phrase, day.text, day.year) == ("the next day", "November 8", None)
    [(_, same)] = resolved_day_offsets("a video posted on the same day", before="on November 5, 2022 ")
    assert same.text == "November 5, 2022"
    assert resolved_day_offsets("the next day", before="no date here") == []


def test_months_named_without_a_day():
    from qa.dates import find_months

    months = find_months("in April, then April 2023, March of 2021 and Nov. 2022; on May 4 too")
    assert [(m.text, m.month, m.year) for m in months] == [
        ("April", 4, None), ("April 2023", 4, 2023), ("March of 2021", 3, 2021),
        ("Nov. 2022", 11, 2022)]
    assert find_months("Azerbaijan may use the Mayor's reports") == []  # a bare month is capitalized
    assert find_months("November 7") == []  # part of a calendar date, which find_dates gives


def test_a_date_without_its_year_is_the_nearest_such_day_to_when_it_was_written():
    premiere = find_dates("premieres Nov. 15 on Netflix")[0]
    assert with_year(premiere, date(2020, 11, 12)) == date(2020, 11, 15)
    # Across the turn of a year, both ways.
    assert with_year(find_dates("on December 30")[0], date(2023, 1, 2)) == date(2022, 12, 30)
    assert with_year(find_dates("on January 3")[0], date(2022, 12, 28)) == date(2023, 1, 3)
    # A year the text gives is kept; February 29 only where there is one.
    assert with_year(find_dates("June 27, 2021")[0], date(2023, 5, 1)) == date(2021, 6, 27)
    assert with_year(find_dates("on February 29")[0], date(2025, 1, 10)) == date(2024, 2, 29)


def test_a_dateline_is_a_full_date_opening_the_text():
    assert dateline("Nov 12, 2020 ... The fourth season premieres Nov. 15.") == date(2020, 11, 12)
    assert dateline("Nov. 12 ... no year given") is None
    assert dateline("June 27, 2023 — The ministers met.") == date(2023, 6, 27)
    assert dateline("The talks of June 27, 2023 ended.") is None  # a date, but not the opening
    assert dateline("June 27, 2023, was the day the ministers met.") is None  # the sentence's own
