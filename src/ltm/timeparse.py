"""Time phrases in a query -> a time window, resolved against a reference time ``now``.

    >>> w = parse_time_window("what did I do last week?", now=datetime(2026, 3, 12))
    >>> w.phrase, w.start_dt.date(), w.end_dt.date()
    ('last week', datetime.date(2026, 3, 2), datetime.date(2026, 3, 9))

Windows are half-open ``[start, end)`` in integer microseconds UTC, calendar-aligned: "last
week" is the Monday-to-Sunday week before ``now``'s, "in May" the most recent May that has
begun, "two years ago" the calendar year two before ``now``'s. Several phrases in one query
give the window that covers them all. What is understood:

- today, tonight, yesterday, last night, the day before yesterday, this morning/afternoon/
  evening
- last/past/previous/this week|weekend|month|year, over/on/at the weekend (the one under way
  on a Saturday or Sunday, else the last), last <weekday>, on <weekday>, last <season>,
  this <season> (the one under way, else the nearest: "this summer" asked in March is coming),
  (this) past <season> ("the last week of the project" names no window)
- the week|weekend|month|year|<season>|<holiday> before last, two Fridays ago
- N days|weeks|fortnights|months|years ago (N in digits or words: a, one ... ninety-nine, a
  dozen, a couple of, a few)
- in the last/past N days|weeks|months|years, in the last/past week|fortnight|month|year
  (rolling up to now), recently, lately, earlier this week|month|year
- between/from May and/to June (2023), from 2019 to 2021 (without a year, the most recent
  stretch whose last month has begun)
- last/this (past) <month> ("last November": the most recent one that is over; "this March"
  once it has begun), in/during/over (the) spring|summer|autumn|winter, in/during/over the fall
  (not "the fall of Rome", "in the fall from the ladder", nor with words of a tumble: "broke my
  wrist in the fall", "since my last fall")
- in May, in May 2023, May 2023, in 2023, summer 2023, (on) 8 May 2023, May 8(th)(, 2023),
  May the 8th, (in) early/mid/late May or 2023 (the whole month or year), Q1 2025, 2025 Q1,
  the first quarter of 2025, in Q1 (the most recent one begun), the 1990s, the '90s, the
  nineties,
  2023-05-08 (also 2023-05-08T10:00), 2023-05, 2023/05/08, 08.05.2023 (day first), 8/5/2023 or
  5/8/2023 (when both numbers could be the month: both days and those between)
- abbreviations: yday, wk(s), mo(s)/mth(s), yr(s), Tue(s), Wed(s), Thu(r)(s), Fri, and Mon, Sat,
  Sun when capitalised ("I last sat down" names no day); not before a capitalised word that is
  no time word ("on Sat Nav", "since Sun Microsystems", "since Thu Nguyen joined" name none)
- Christmas (Eve, Day), New Year's Eve, New Year's Day, Halloween, Valentine's Day,
  Thanksgiving, with or without a year
- since/after/before/until any of the forms above, or a month's name or a year ("since Monday",
  "since last week", "before Christmas", "since May", "before 2020")

The future names no window: "tomorrow", "next week", "next Friday", "in two weeks", "this
coming weekend" give None. Memories are of the past (what was said about next week was said
before now), and a window after ``now`` would put every memory outside it, lowering them all.
Vague times ("a while ago", "ages ago") and words that only look like time ("May I ask", "my
sister May", "Summer is my cat", "the March on Washington", "my last name", "in the last
chapter", "Q1 of the quiz", "in her twenties") give None too: a window boosts the memories inside
it, so a false one misranks.

Calendar days are those of ``now``'s own UTC offset when it carries one (an aware datetime or
ISO text with an offset): asked at 10:00-05:00 on a Monday, "yesterday" is that Sunday from
00:00-05:00, so a memory at 23:30-05:00 on Sunday (04:30 UTC Monday) is inside it. Without an
offset the days are UTC's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .errors import InvalidInput
from .timeutil import from_us, to_us

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"])}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_WEEKDAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAYS = {d: i for i, d in enumerate(_WEEKDAY_NAMES)}
_WEEKDAYS.update({"tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3,
                  "fri": 4, "mon": 0, "sat": 5, "sun": 6})
_CASED = frozenset(("mon", "sat", "sun"))  # weekdays only when capitalised: not "I last sat"
# units as written -> the calendar unit and how many of it
_UNITS = {"day": ("day", 1), "week": ("week", 1), "wk": ("week", 1), "month": ("month", 1),
          "mo": ("month", 1), "mth": ("month", 1), "year": ("year", 1), "yr": ("year", 1),
          "decade": ("decade", 1), "fortnight": ("week", 2)}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
            "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3,
            "several": 3, "a dozen": 12, "dozen": 12, "thirteen": 13, "fourteen": 14,
            "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_ONES = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
for _tens, _t in zip(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
                      "ninety"], range(20, 100, 10)):
    _NUMBERS[_tens] = _t
    for _o, _one in enumerate(_ONES, 1):  # twenty-one, twenty one
        _NUMBERS[f"{_tens}-{_one}"] = _NUMBERS[f"{_tens} {_one}"] = _t + _o
_NUMBERS.update({"a hundred": 100, "one hundred": 100})
del _tens, _t, _o, _one
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
# holidays: (month, day) of the day that names the year, then the window's first day relative
# to it and its length in days; Thanksgiving (the fourth Thursday of November) is computed
_HOLIDAYS = {"christmas eve": (12, 24, 0, 1), "christmas day": (12, 25, 0, 1),
             "christmas": (12, 25, -1, 3), "xmas": (12, 25, -1, 3),
             "new year's eve": (12, 31, 0, 1), "new years eve": (12, 31, 0, 1),
             "new year's day": (1, 1, 0, 1), "new years day": (1, 1, 0, 1),
             "halloween": (10, 31, 0, 1), "valentine's day": (2, 14, 0, 1),
             "valentines day": (2, 14, 0, 1), "thanksgiving": (11, 0, 0, 1)}
_FLOOR = datetime(1, 1, 2, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)  # the start of an open "before ..." window

_MON = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_NUM = r"(?P<num>\d{1,3}|" + "|".join(
    re.escape(k) for k in sorted(_NUMBERS, key=len, reverse=True)) + r")"
_UNIT = r"(?P<unit>" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")s?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_WD = r"(?P<wd>" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")\.?"
_SEASON = r"(?P<season>" + "|".join(_SEASONS) + r")"
_HOL = r"(?P<hol>" + "|".join(re.escape(h).replace("'", "[\'\u2019]?").replace(r"\ ", r"\s+")
                              for h in sorted(_HOLIDAYS, key=len, reverse=True)) + r")"
# a month's name that is someone's: "in May's car"; "since May said so"
_NOT_NAME = r"(?![a-z]|['\u2019]s\b)"
# ... and the subject of a verb ("since May said so"), only for the months that are also
# given names, or the modal "May I ask": "since March I've been running", "since June we
# have lived here" name the month
_NOT_SUBJECT = (r"(?:(?<!\bmay)(?<!\bjune)(?<!\bapril)(?<!\baugust)|"
                r"(?!\s+(?:said|says|told|tells|asked|asks|called|calls|came|comes|arrived|"
                r"arrives|left|leaves|went|goes|is|was|has|had|gave|gives|got|did|does|wrote|"
                r"writes|sent|sends|mentioned|wants|wanted|be|joined|joins|started|starts|met|"
                r"meets|moved|moves|became|becomes|helped|helps)\b))"
                r"(?:(?<!\bmay)|(?!\s+(?:i|we|you|he|she|they|it)\b))")
# not followed by a time word: "the summer before last", not "the summer before last week"
_NOT_TIME = (r"(?!\s+(?:week|weekend|month|year|decade|night|spring|summer|fall|autumn|winter|"
             r"christmas|xmas|halloween|thanksgiving|new\s+year|valentine|monday|tuesday|"
             r"wednesday|thursday|friday|saturday|sunday)\b)")
_MOD = re.compile(r"\b(?P<mod>since|after|before|until)\s+$")
# A query with one of these words tells of a tumble: its "in the fall" is no autumn ("I broke my
# wrist in the fall", "was she hurt in the fall", "the hip he fractured in the fall")
_TUMBLE = re.compile(r"\b(?:br[eo]ak\w*|broken|injur\w*|hurt\w*|wound\w*|bruis\w*|fractur\w*|"
                     r"sprain\w*|concuss\w*|hospital\w*|ambulance|stitch\w*|paramedic\w*|"
                     r"surviv\w*|died|dies|killed|slip\w*|fell|fallen|wrists?|hips?|ankles?|"
                     r"knees?|elbows?|ribs?|skull|collarbone|pelvis|spine|bones?)\b")
# ... and "last fall", "this fall" after one of these is a tumble: "since my last fall", "her
# last fall was in May"
_OWNER = re.compile(r"(?:\b(?:my|his|her|their|your|our|its|a|one|another|whose)|['\u2019]s)\s+$")
# A capitalised word right after a weekday's abbreviation makes it the start of a name ("I
# bought a Sat Nav", "since Sun Microsystems", "on Mon Repos"), unless the word is "I" or one
# of time ("on Sat Night", "Fri Jan 9", "Mon AM"); matched on the query as written, not after
# a full stop ("on Thu. Then we left") nor in a query all in capitals
_NAME_AFTER = re.compile(
    r"[ \t]+(?!(?:I|" + "|".join(
        w.capitalize() + "|" + w.upper() for w in [
            *_MONTHS, *_WEEKDAYS, "morning", "afternoon", "evening", "night", "noon",
            "midday", "midnight", "lunchtime", "am", "pm", "eve"])
    + r")(?!\w))[A-Z]")


@dataclass(frozen=True)
class TimeWindow:
    """A half-open window ``[start, end)`` (microseconds UTC) and the phrase it came from."""

    start: int
    end: int
    phrase: str
    scale: int = 0  # the span the phrase named, before since/until/... opened it (0: the window)

    @property
    def width(self) -> int:
        """How far outside the window a memory's closeness halves (microseconds): the window's
        width, or for an open window ("before 2020", "since last week") the width of the span
        its phrase names, not the decades back to year 1."""
        return self.scale or self.end - self.start

    @property
    def start_dt(self) -> datetime:
        return from_us(self.start)

    @property
    def end_dt(self) -> datetime:
        return from_us(self.end)

    def contains(self, t: int) -> bool:
        return self.start <= t < self.end

    def distance(self, t: int) -> int:
        """Microseconds from ``t`` to the window (0 inside)."""
        if t < self.start:
            return self.start - t
        if t >= self.end:
            return t - self.end + 1
        return 0


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=timezone.utc)


def _span_month(year: int, month: int, n: int = 1) -> tuple[datetime, datetime]:
    return _month_start(year, month), _month_start(year, month + n)


def _span_year(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc)


def _span_day(d: date) -> tuple[datetime, datetime]:
    return _dt(d), _dt(d) + timedelta(days=1)


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _saturday(d: date) -> date:
    """The Saturday of ``d``'s (Monday-to-Sunday) week."""
    return _week_start(d) + timedelta(days=5)


def _span_weekend(sat: date) -> tuple[datetime, datetime]:
    return _dt(sat), _dt(sat) + timedelta(days=2)


def _unit_span(unit: str, anchor: date) -> tuple[datetime, datetime]:
    """The calendar unit (day, week, month, year, decade) containing ``anchor``."""
    if unit == "day":
        return _span_day(anchor)
    if unit == "week":
        ws = _week_start(anchor)
        return _dt(ws), _dt(ws) + timedelta(days=7)
    if unit == "month":
        return _span_month(anchor.year, anchor.month)
    if unit == "year":
        return _span_year(anchor.year)
    start = anchor.year - anchor.year % 10
    return _span_year(start)[0], _span_year(start + 9)[1]


def _shift(d: date, unit: str, n: int) -> date:
    """``d`` moved ``n`` units back in time."""
    if unit == "day":
        return d - timedelta(days=n)
    if unit == "week":
        return d - timedelta(weeks=n)
    months = n * {"month": 1, "year": 12, "decade": 120}[unit]
    total = d.year * 12 + (d.month - 1) - months
    year, month = divmod(total, 12)
    last = (_month_start(year, month + 2) - timedelta(days=1)).day
    return date(max(year, 1), month + 1, min(d.day, last))


def _last_weekend(today: date) -> date:
    """The Saturday of the most recent weekend that is over (asked on a Sunday, the one before)."""
    sat = _saturday(today)
    return sat - timedelta(days=7) if sat + timedelta(days=2) > today else sat


def _last_season(month: int, now: datetime) -> datetime:
    """The first day of the most recent season beginning in ``month`` that has ended."""
    start = _month_start(now.year, month)
    while start + timedelta(days=92) > now:
        start = _month_start(start.year - 1, month)
    return start


def _count(raw: str) -> int | None:
    raw = raw.lower().strip()
    if raw.isdigit():
        return int(raw)
    return _NUMBERS.get(raw)


def _recent_month(month: int, today: date) -> int:
    """The year of the most recent ``month`` that has begun by ``today``."""
    return today.year if month <= today.month else today.year - 1


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


Span = tuple[datetime, datetime]


def _absolute(g: dict[str, Any], today: date) -> Span | None:
    """The span an absolute pattern's match names (``g``: its groups, as the query wrote them)."""
    if g.get("hol"):
        name = re.sub(r"\s+", " ", g["hol"].lower().replace("\u2019", "'"))
        month, day, first, days = _HOLIDAYS[name]

        def on(year: int) -> date:
            if month == 11 and day == 0:  # Thanksgiving: the fourth Thursday of November
                nov1 = date(year, 11, 1)
                return nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)
            return date(year, month, day)
        year = int(g["year"]) if g.get("year") else today.year
        if not g.get("year") and (g.get("hlast") or g.get("hbl")):
            while on(year) + timedelta(days=first + days) > today:  # "last Christmas": the
                year -= 1  # most recent one over; "the Christmas before last" the one before
            year -= 1 if g.get("hbl") else 0
        elif not g.get("year") and on(year) + timedelta(days=first) > today:
            year -= 1  # the most recent one that has begun
        begin = _dt(on(year) + timedelta(days=first))
        return begin, begin + timedelta(days=days)
    if g.get("sl_y") or g.get("sl_yy"):  # a date with slashes or dots
        if g.get("sl_y"):
            d = _safe_date(int(g["sl_y"]), int(g["sl_m"]), int(g["sl_d"]))
            return _span_day(d) if d else None
        a, b, y = int(g["sl_a"]), int(g["sl_b"]), int(g["sl_yy"])
        both = [d for d in {_safe_date(y, b, a), None if g["sep"] == "." else _safe_date(y, a, b)}
                if d is not None]
        return (_dt(min(both)), _dt(max(both)) + timedelta(days=1)) if both else None
    if g.get("dec") or g.get("dec2") or g.get("decw"):
        if g.get("dec"):
            first_year = int(g["dec"]) * 10
        else:  # "the 90s": the most recent such decade begun
            first_year = today.year - today.year % 100 + (
                int(g["dec2"]) * 10 if g.get("dec2") else _DECADES[g["decw"].lower()])
            first_year -= 100 if first_year > today.year else 0
        return _span_year(first_year)[0], _span_year(first_year + 9)[1]
    if g.get("q") or g.get("qw"):
        q = int(g["q"]) if g.get("q") else _QUARTERS[g["qw"].lower()]
        first_month = 3 * q - 2
        year = int(g["year"]) if g.get("year") else _recent_month(first_month, today)
        return _span_month(year, first_month, 3)
    if g.get("r_ya"):  # from one year to another
        first_year, last_year = int(g["r_ya"]), int(g["r_yb"])
        # (a range into years to come is a count, not a time: "from 2000 to 2050 steps")
        return (_span_year(first_year)[0], _span_year(last_year)[1]) \
            if first_year <= last_year <= today.year else None
    if g.get("r_m1"):  # from one month to another: the most recent stretch whose last month
        # has begun ("from March to May" asked in March 2026 is 2025's: mostly past)
        m1, m2 = _MONTHS[g["r_m1"].lower()], _MONTHS[g["r_m2"].lower()]
        if g.get("r_y2"):
            y2 = int(g["r_y2"])
        elif g.get("r_y1"):
            y2 = int(g["r_y1"]) + (m2 < m1)
        else:
            y2 = _recent_month(m2, today)
        y1 = int(g["r_y1"]) if g.get("r_y1") else y2 - (m1 > m2)
        begin, after = _month_start(y1, m1), _month_start(y2, m2 + 1)
        return (begin, after) if begin < after else None
    if g.get("iso_y"):
        y, mo = int(g["iso_y"]), int(g["iso_m"])
        if not 1 <= mo <= 12:
            return None
        if g.get("iso_d"):
            d = _safe_date(y, mo, int(g["iso_d"]))
            return _span_day(d) if d else None
        return _span_month(y, mo)
    if g.get("season") or g.get("fall"):
        month = _SEASONS[(g.get("season") or g["fall"]).lower()]
        if g.get("year"):
            year = int(g["year"])
        else:
            year = today.year if month <= today.month else today.year - 1
        if month == 12 and g.get("year"):
            year -= 0  # "winter 2023" = Dec 2023 - Feb 2024
        return _span_month(year, month, 3)
    if g.get("mlast"):
        word = g["mon"].rstrip(".")
        month = _MONTHS[word.lower()]
        if word.lower() in ("may", "march", "mar") and not word[0].isupper():
            return None
        if g["mlast"].lower() == "this":  # this year's, once it has begun
            return _span_month(today.year, month) if month <= today.month else None
        # the most recent one that is over: "last March" asked in March is a year back
        return _span_month(today.year if month < today.month else today.year - 1, month)
    if g.get("mon"):
        month = _MONTHS[g["mon"].lower().rstrip(".")]
        year = int(g["year"]) if g.get("year") else _recent_month(month, today)
        if not g.get("year") and (g.get("mod") or "").lower() == "after" and month == today.month:
            year -= 1  # "after March" asked in March: after the last March that is over
        if g.get("day"):
            if g.get("year"):
                d = _safe_date(year, month, int(g["day"]))
                return _span_day(d) if d else None
            # the most recent such day: 29 February asked in 2025 is 2024's
            for back in range(9):
                d = _safe_date(today.year - back, month, int(g["day"]))
                if d is not None and d <= today:
                    return _span_day(d)
            return None
        return _span_month(year, month)
    if g.get("year"):
        return _span_year(int(g["year"]))
    return None


# Absolute forms, most specific first. Named groups are read by _absolute.
_DECADES = {w: 10 * i for i, w in enumerate(
    ["twenties", "thirties", "forties", "fifties", "sixties", "seventies", "eighties", "nineties"],
    2)}
_QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3,
             "4th": 4}
_MON_ANY = "|".join(sorted(_MONTHS, key=len, reverse=True))
_TO = r"\s*(?:-|\u2013|\s(?:and|to|till|until|through|thru)\s)\s*"
# The words an absolute pattern needs, checked before it is run on an ASCII query: for each
# group it names below, one of the group's words in the lowercased query (a month's name starts
# with "jan" ... "dec", a year with "19" or "20"): "in June" runs 1 of the 28 patterns, "on 3
# June 2023" 9. A query with a character that is not ASCII runs them all, as written: under
# IGNORECASE the long s "\u017f" is "s", which lowercasing does not give, and lowercasing "\u0130"
# gives two characters.
_HINTS = {"mon": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                  "dec"),
          "year": ("19", "20"), "season": tuple(_SEASONS), "q": ("q1", "q2", "q3", "q4", "quarter"),
          "hol": ("christmas", "xmas", "new", "halloween", "valentine", "thanksgiving"),
          "range": ("between", "from"), "apos": ("'",), "ties": ("ties",), "slash": ("/",),
          "sep": ("/", "."), "dash": ("-",), "digit": tuple("0123456789"),
          "last": ("last", "past", "this"), "edge": ("early", "late", "mid"),
          "mod": ("since", "after", "before", "until")}
_ABS: list[tuple[tuple[str, ...], str]] = [
    # ranges: "between May and June", "from March to May 2023", "from 2019 to 2021"
    (("range", "mon"),
     r"(?:between|from)\s+(?P<r_m1>" + _MON_ANY + r")\.?(?:,?\s+(?P<r_y1>(?:19|20)\d\d))?" + _TO
     + r"(?P<r_m2>" + _MON_ANY + r")\.?(?:,?\s+(?P<r_y2>(?:19|20)\d\d))?" + _NOT_NAME),
    (("range", "year"),
     r"(?:between|from)\s+(?P<r_ya>(?:19|20)\d\d)" + _TO + r"(?P<r_yb>(?:19|20)\d\d)\b"),
    # quarters: "Q1 2025", "2025 Q1", "the first quarter of 2025", "in Q1" (not "Q1 of the quiz")
    (("q", "year"),
     r"(?:the\s+)?(?:q(?P<q>[1-4])|(?P<qw>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter)"
     r"\s+(?:of\s+)?" + _YEAR + r"\b"),
    (("q", "year"), _YEAR + r"\s+q(?P<q>[1-4])\b"),
    (("q",),
     r"(?:in|during)\s+(?:the\s+)?(?:q(?P<q>[1-4])|(?P<qw>first|second|third|fourth|1st|2nd|3rd|"
     r"4th)\s+quarter)\b(?!\s+of\b)"),
    # decades: "the 1990s", "the '90s", "the nineties" (not "in her twenties", nor "scored in
    # the 90s": two digits only with the apostrophe)
    (("year",), r"(?:the\s+)?(?P<dec>(?:19|20)\d)0['\u2019]?s\b"),
    (("apos",), r"the\s+['\u2019](?P<dec2>[1-9])0['\u2019]?s\b"),
    (("ties",), r"the\s+(?P<decw>" + "|".join(_DECADES) + r")\b"),
    # 2023/05/08; 8/5/2023 or 5/8/2023 (day and month told apart when one is over 12, else
    # both days and the days between); 08.05.2023 (day first)
    (("slash", "year"), r"(?P<sl_y>(?:19|20)\d\d)/(?P<sl_m>[01]?\d)/(?P<sl_d>[0-3]?\d)(?![\d/])"),
    (("sep", "year"),
     r"(?<![\d/.])(?<!\bversion\s)(?<!\bv)(?<!\brelease\s)(?P<sl_a>[0-3]?\d)(?P<sep>[/.])(?P<sl_b>[0-3]?\d)(?P=sep)(?P<sl_yy>(?:19|20)\d\d)"
     r"(?![\d/])"),
    (("dash", "year"),
     r"(?P<iso_y>(?:19|20)\d\d)-(?P<iso_m>[01]\d)(?:-(?P<iso_d>[0-3]\d)(?![\d:])|\b)"),
    (("hol",),
     r"(?:(?:on|at|over|for|during)\s+)?(?:(?P<hlast>last|(?:this\s+)?past)\s+)?" + _HOL
     + r"(?:\s+(?:of\s+)?" + _YEAR + r")?\b(?P<hbl>\s+before\s+last\b" + _NOT_TIME + ")?"),
    (("mon", "year"), _DAY + r"\s+(?:of\s+)?" + _MON + r",?\s+" + _YEAR),
    (("mon", "year"), _MON + r"\s+" + _DAY + r"(?:,\s*|\s+)" + _YEAR),
    # "May the 3rd"
    (("mon", "digit"), _MON + r"\s+the\s+" + _DAY + r"(?:,?\s+" + _YEAR + r")?(?![\d:])"),
    (("mon", "digit"), _DAY + r"\s+(?:of\s+)?" + _MON + r"(?![a-z])"),
    (("mon", "digit"), _MON + r"\s+" + _DAY + r"(?![\d:])"),
    (("season", "year"), _SEASON + r"\s+(?:of\s+)?" + _YEAR),
    (("season", "year"), r"(?:the\s+)?" + _SEASON + r"\s+of\s+" + _YEAR),
    (("mon", "year"), _MON + r",?\s+(?:of\s+)?" + _YEAR),
    # "last November", "this past March", "this May" (May and March capitalised: not "this
    # may be", "the last march")
    (("mon", "last"), r"(?P<mlast>last|(?:this\s+)?past|this)\s+" + _MON + _NOT_NAME),
    # "in the summer", "during winter", "over the summer" (the most recent one begun; not "in
    # the spring of life")
    (("season",),
     r"(?:in|during|over|throughout)\s+(?:the\s+)?(?P<season>spring|summer|autumn|winter)"
     + _NOT_NAME + r"(?!\s+of\b)"),
    # "in the fall", "during the fall" (autumn), only after in/during/over/throughout the, and
    # not the start of a tumble's telling ("the fall of Rome", "in the fall from the ladder",
    # "in the fall-out"), nor in a query with a word of one ("broke my wrist in the fall": see
    # _TUMBLE); "after the fall", "since the fall", "a fall" are no season
    (("season",),
     r"(?:in|during|over|throughout)\s+the\s+(?P<fall>fall)" + _NOT_NAME
     + r"(?![-\u2010]|\s+(?:of|from|off|down|into|onto|out|over|on|at)\b)"),
    (("mon",), r"(?:in|during|throughout)\s+(?:early\s+|late\s+|mid-?\s*)?" + _MON + _NOT_NAME),
    (("year",), r"(?:in|during|of|throughout)\s+(?:early\s+|late\s+)?" + _YEAR),
    # without "in": "early March", "mid-2024" (the whole month or year)
    (("mon", "edge"), r"(?:early|late|mid-?)\s*" + _MON + _NOT_NAME + _NOT_SUBJECT),
    (("year", "edge"),
     r"(?:(?:in|during|of|throughout)\s+)?(?:early|late|mid-?)\s*" + _YEAR + r"\b"),
]
# a bare year or month counts only after since/after/before/until ("since 2020", "since May",
# not "since May said so")
_ABS_AFTER_MOD = [(("year", "mod"), _YEAR + r"\b"),
                  (("mon", "mod"), _MON + _NOT_NAME + _NOT_SUBJECT)]
# each pattern with its words, compiled for any query and for a lowercased ASCII one
_ABS_RE = [(frozenset(needs), re.compile(pre + p + ")", re.IGNORECASE),
            re.compile(pre + p + ")"))
           for pre, patterns in (
               (r"(?<![\w-])(?:(?P<mod>since|after|before|until)\s+)?(?:", _ABS),
               (r"(?<![\w-])(?P<mod>since|after|before|until)\s+(?:", _ABS_AFTER_MOD))
           for needs, p in patterns]


def _modified(mod: str, span: Span, now: datetime) -> Span:
    """The window "since/after/before/until <span>" names."""
    if mod == "since":
        return span[0], max(now, span[1])
    if mod == "after":
        return span[1], max(now, span[1] + timedelta(days=1))
    if mod in ("before", "until"):
        return _FLOOR, span[0] if mod == "before" else span[1]
    return span


Found = tuple[int, int, Span, str, timedelta | None]  # where, the window, the phrase, and
# for an opened span (since/after/before/until) the width of the span the phrase named


# The relative patterns, matched on the lowercased query, each with the words it needs (one of
# them; checked first, cheaper than a scan: most queries that reach _relative name a month or
# a year and none of these)
_Rel = tuple[tuple[str, ...], re.Pattern[str]]
_R_DBY = (("yesterday",), re.compile(
    r"\b(?:the\s+day\s+before\s+yesterday)\b"))
_R_TODAY = (("today", "tonight", "this"), re.compile(
    r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening))\b"))
_R_YDAY = (("yesterday", "yday", "y'day"), re.compile(
    r"(?<!day before )\b(?:yesterday|y'?day)\b"))
_R_LASTNIGHT = (("last",), re.compile(
    r"\blast\s+night\b"))
_R_AGO = (("ago", "back", "earlier"), re.compile(
    r"\b" + _NUM + r"\s+" + _UNIT + r"\s+(?:ago|back|earlier)\b"))
_R_LAST_N = (("last", "past", "previous"), re.compile(
    r"\b(?:in\s+|over\s+|during\s+)?(?:the\s+)?(?:last|past|previous)\s+"
    + _NUM + r"\s+" + _UNIT + r"\b(?!\s+of\b)"))
_R_LAST_UNIT = (("last", "past", "previous", "this"), re.compile(
    r"\b(?:last|past|previous|this)\s+(?P<unit>week|wk|month|mth|mo|year|"
    r"yr|decade|weekend|fortnight)\b(?!s|\s+of\b)"))
_R_OVER_WEEKEND = (("weekend",), re.compile(
    r"\b(?:over|on|at|during)\s+the\s+weekend\b(?!s|\s+(?:before|after|"
    r"of|following|preceding)\b)"))
_R_LAST_WD = (("last", "past", "previous", "this"), re.compile(
    r"\b(?:last|past|previous|this)\s+" + _WD + r"(?![\w.])"))
_R_ON_WD = (("mon", "tue", "wed", "thu", "fri", "sat", "sun"), re.compile(
    r"\b(?P<pre>on|since|after|before|until)\s+" + _WD + r"(?![\w.])"))
_R_LAST_SEASON = (("last", "past", "this"), re.compile(
    r"\b(?P<which>last|(?:this\s+)?past|this)\s+" + _SEASON + r"\b"))
_R_BEFORE_LAST = (("before",), re.compile(
    r"\bthe\s+(?P<unit>week|weekend|month|year|" + "|".join(_SEASONS)
    + r")\s+before\s+last\b" + _NOT_TIME))
_R_WDS_AGO = (("ago",), re.compile(
    r"\b" + _NUM + r"\s+(?P<wd>" + "|".join(_WEEKDAY_NAMES)
    + r")s\s+ago\b"))
_R_RECENTLY = (("recently", "lately", "these", "other"), re.compile(
    r"\b(?:recently|lately|these\s+days|the\s+other\s+day)\b"))
_R_EARLIER = (("earlier",), re.compile(
    r"\bearlier\s+this\s+(?P<unit>week|month|year)\b"))
_ROLLING = re.compile(r"\b(?:in|over|during|within)\s+the\s+$")


def _scan(rel: _Rel, low: str) -> Iterator[re.Match[str]]:
    """The matches of a relative pattern in ``low``, none when it lacks every word needed."""
    needs, rx = rel
    return rx.finditer(low) if any(map(low.__contains__, needs)) else iter(())


def _relative(text: str, today: date, now: datetime) -> list[Found]:
    out: list[Found] = []
    low = text.lower()

    def add(m: re.Match[str], span: Span, mod: str = "") -> None:
        start = m.start()
        if not mod:  # "since last week", "before yesterday"
            pre = _MOD.search(low, max(0, start - 64), start)  # not the whole prefix: O(n^2)
            if pre is not None:
                mod, start = pre.group("mod"), pre.start()
        out.append((start, m.end(), _modified(mod, span, now), low[start:m.end()],
                    span[1] - span[0] if mod else None))

    for m in _scan(_R_DBY, low):
        add(m, _span_day(today - timedelta(days=2)))
    for m in _scan(_R_TODAY, low):
        add(m, _span_day(today))
    for m in _scan(_R_YDAY, low):
        add(m, _span_day(today - timedelta(days=1)))
    for m in _scan(_R_LASTNIGHT, low):  # yesterday's evening and the night after
        noon = _dt(today - timedelta(days=1)) + timedelta(hours=12)
        add(m, (noon, noon + timedelta(hours=20)))
    for m in _scan(_R_AGO, low):
        n = _count(m.group("num"))
        unit, times = _UNITS[m.group("unit")]
        if n is not None and n < 1000:
            add(m, _unit_span(unit, _shift(today, unit, n * times)))
    # "in the last 3 days", not "in the last 3 days of the trip"
    for m in _scan(_R_LAST_N, low):
        n = _count(m.group("num"))
        unit, times = _UNITS[m.group("unit")]
        if n is not None and n < 1000:
            add(m, (_dt(_shift(today, unit, n * times)), now))
    # "the last week of the project" is a week of something else, not a calendar week
    for m in _scan(_R_LAST_UNIT, low):
        unit = _UNITS.get(m.group("unit"), ("weekend", 1))[0]
        if m.group("unit") == "fortnight":  # the last fortnight: the 14 days up to now
            add(m, (_dt(_shift(today, "week", 2)), now))
            continue
        this = m.group(0).startswith("this")
        rolling = _ROLLING.search(
            low, max(0, m.start() - 64), m.start())  # not low[:start] each time: O(n^2)
        if unit == "weekend":
            add(m, _span_weekend(_saturday(today) if this else _last_weekend(today)))
        elif this:
            add(m, _unit_span(unit, today))
        elif m.group(0).startswith("past") or (rolling and unit != "decade"):
            # "in the last week": the seven days up to now, as "in the past week"
            add(m, (_dt(_shift(today, unit, 1)), now))
        else:
            add(m, _unit_span(unit, _shift(today, unit, 1)))
    # "over the weekend": the most recent one that has begun (asked on a Sunday, this one)
    # (not "over the weekend before 4th October": that weekend is another's)
    for m in _scan(_R_OVER_WEEKEND, low):
        sat = _saturday(today)
        add(m, _span_weekend(sat - timedelta(days=7) if sat > today else sat))

    def weekday(m: re.Match[str]) -> int | None:
        """The weekday named (Mon, Sat, Sun only capitalised), None if it is another word: an
        abbreviation that starts a name ("Sat Nav", "Sun Microsystems", "Mon Repos": a
        capitalised word after it that is no time word, see ``_NAME_AFTER``)."""
        wd = m.group("wd")
        cased = len(text) == len(low)
        if wd in _CASED and not (cased and text[m.start("wd")].isupper()):
            return None
        if wd not in _WEEKDAY_NAMES and cased and text != text.upper() \
                and not m.group(0).endswith(".") and _NAME_AFTER.match(text, m.end()):
            return None
        return _WEEKDAYS[wd]

    for m in _scan(_R_LAST_WD, low):
        if (wd := weekday(m)) is None:
            continue
        back = (today.weekday() - wd) % 7 or 7
        if m.group(0).startswith("this"):
            back = (today.weekday() - wd) % 7
        add(m, _span_day(today - timedelta(days=back)))
    # "on Monday", "since Monday": the most recent one before today ("on Mondays" is a habit)
    for m in _scan(_R_ON_WD, low):
        if (wd := weekday(m)) is None:
            continue
        back = (today.weekday() - wd) % 7 or 7
        pre = m.group("pre")
        add(m, _span_day(today - timedelta(days=back)), "" if pre == "on" else pre)
    for m in _scan(_R_LAST_SEASON, low):
        if m.group("season") == "fall" and _OWNER.search(low, max(0, m.start() - 16), m.start()):
            continue  # "since my last fall": a tumble
        month = _SEASONS[m.group("season")]
        if m.group("which") != "this":
            start = _last_season(month, now)
        else:  # the one we are in, else the nearest: "this summer" asked in March is the
            # coming one, "this winter" asked in March the one just ended
            def away(begin: datetime) -> timedelta:
                end = _month_start(begin.year, begin.month + 3)
                return max(begin - now, now - end, timedelta(0))
            start = min((_month_start(today.year + d, month) for d in (-1, 0, 1)), key=away)
        add(m, (start, _month_start(start.year, start.month + 3)))
    # "the year before last": two back; "the summer before last": the one before last summer
    for m in _scan(_R_BEFORE_LAST, low):
        unit = m.group("unit")
        if unit == "weekend":
            add(m, _span_weekend(_last_weekend(today) - timedelta(days=7)))
        elif unit in _SEASONS:
            last = _last_season(_SEASONS[unit], now)
            start = _month_start(last.year - 1, last.month)
            add(m, (start, _month_start(start.year, start.month + 3)))
        else:
            add(m, _unit_span(unit, _shift(today, unit, 2)))
    # "two Fridays ago": the Friday before last Friday
    for m in _scan(_R_WDS_AGO, low):
        n = _count(m.group("num"))
        if n is not None and 0 < n < 1000:
            back = (today.weekday() - _WEEKDAYS[m.group("wd")]) % 7 or 7
            add(m, _span_day(today - timedelta(days=back + 7 * (n - 1))))
    for m in _scan(_R_RECENTLY, low):
        add(m, (now - timedelta(days=30), now))
    for m in _scan(_R_EARLIER, low):
        add(m, (_unit_span(m.group("unit"), today)[0], now))
    return out


# Each pattern above needs one of these (checked first: most queries name no time). The
# relative ones, matched on the lowercased query, need a word of the first; the absolute ones
# a month's name or abbreviation before a non-letter, a season or a year.
_MAYBE_RELATIVE = re.compile(r"\b(?:today|tonight|yesterday|y'?day|this|ago|back|earlier|last|"
                             r"weekend|"
                             r"past|previous|recently|lately|(?:mon|tues|wednes|thurs|fri|satur|"
                             r"sun)day|mon|tues?|weds?|thu|thurs?|fri|sat|sun)\b|these\s+days|"
                             r"other\s+day")
_MAYBE_ABSOLUTE = re.compile(r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True))
                             + r")(?![a-z])|spring|summer|fall|autumn|winter|(?:19|20)\d\d"
                             r"|christmas|xmas|new\s+year|halloween|valentine|thanksgiving"
                             r"|\bq[1-4]\b|quarter|0['\u2019]?s\b|ties\b",
                             re.IGNORECASE)
# ... which in an ASCII query (lowercased) needs one of these words (checked first: the scan
# costs ~30 us a query, these ~2 us) and is then the same scan without IGNORECASE
_ABSOLUTE_HINTS = (*_HINTS["mon"], *_HINTS["year"], *_SEASONS, *_HINTS["hol"], *_HINTS["q"],
                   "0s", "0'", "ties")
_MAYBE_ABSOLUTE_LOW = re.compile(_MAYBE_ABSOLUTE.pattern)


def _maybe_time(query: str, low: str) -> bool:
    """Whether ``query`` (``low`` lowercased) may name a time: False when no pattern can match."""
    if _MAYBE_RELATIVE.search(low) is not None:
        return True
    if not query.isascii():
        return _MAYBE_ABSOLUTE.search(query) is not None
    return any(map(low.__contains__, _ABSOLUTE_HINTS)) and \
        _MAYBE_ABSOLUTE_LOW.search(low) is not None


def utc_offset(value: object) -> timedelta:
    """The UTC offset a time carries: an aware datetime's, or that written in ISO-8601 text
    ("2026-03-09T10:00-05:00"); zero for anything else (naive, epoch numbers, unparseable)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z"))
                                           else text)
        except ValueError:
            return timedelta(0)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.utcoffset() or timedelta(0)
    return timedelta(0)


def parse_time_window(query: str, now: object = None) -> TimeWindow | None:
    """The window the time phrases of ``query`` name, resolved against ``now`` (a datetime,
    ISO string, epoch seconds or microseconds int; default the present). None when the query
    names no time."""
    if now is None:
        now_dt = datetime.now(timezone.utc)
    elif isinstance(now, int) and not isinstance(now, bool) and abs(now) > 10**11:
        now_dt = from_us(now)
    else:
        now_dt = from_us(to_us(now, field="now"))
    if not _maybe_time(query, query.lower()):
        return None
    try:
        return _window(query, now_dt, utc_offset(now))
    except (ValueError, OverflowError, InvalidInput):
        return None  # a window that would leave the years datetime holds (now near 1 or 9999)


def _window(query: str, now_dt: datetime, offset: timedelta) -> TimeWindow | None:
    now_dt += offset  # the wall clock of now's offset: its calendar days, shifted back below
    today = now_dt.date()
    found: list[Found] = []
    reach = -1  # a phrase inside a longer one ("this month" in "earlier this month") is its part
    for f in sorted(_relative(query, today, now_dt), key=lambda f: (f[0], -f[1])):
        if f[1] > reach:
            found.append(f)
            reach = f[1]
    taken = bytearray(len(query) + 1)  # 1 where a phrase already found lies (a pairwise
    for a, b, _, _, _ in found:        # overlap check was quadratic in a long query)
        taken[a:b] = b"\x01" * (b - a)
    # An ASCII query is matched lowercased, without IGNORECASE (the same matches, ~2x faster),
    # by the patterns whose words it holds; the groups are read from the query as written
    ascii_ = query.isascii()
    low = query.lower()
    held = {name for name, words in _HINTS.items() if any(map(low.__contains__, words))} \
        if ascii_ else set()
    for needs, rx, rx_low in _ABS_RE:
        if ascii_ and not needs <= held:
            continue
        for m in rx_low.finditer(low) if ascii_ else rx.finditer(query):
            if 1 in taken[m.start():m.end()]:
                continue
            g = {k: None if v is None else query[m.start(k):m.end(k)]
                 for k, v in m.groupdict().items()} if ascii_ else m.groupdict()
            span = None if g.get("fall") and _TUMBLE.search(low) else _absolute(g, today)
            if span is None:  # no such day ("Feb 29, 2023"): not "Feb 29" of another year
                taken[m.start():m.end()] = b"\x01" * (m.end() - m.start())
                continue
            mod = (g["mod"] or "").lower()
            found.append((m.start(), m.end(), _modified(mod, span, now_dt),
                          query[m.start():m.end()], span[1] - span[0] if mod else None))
            taken[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    if not found:
        return None
    found.sort(key=lambda f: f[0])
    start = min(f[2][0] for f in found)
    end = max(f[2][1] for f in found)
    if end <= start:
        end = start + timedelta(days=1)
    if offset:
        start, end = max(start - offset, _FLOOR), end - offset
    phrase = " / ".join(f[3].strip() for f in found)
    opened = [f[4] for f in found if f[4] is not None]
    scale = 0 if not opened else max(
        [*opened, *(f[2][1] - f[2][0] for f in found if f[4] is None)]) // _US
    return TimeWindow(to_us(start), to_us(end), phrase, scale)
