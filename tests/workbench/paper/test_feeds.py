"""Feeds: ``replay:`` and ``synthetic`` parsing, pacing, bar checks."""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from engine.errors import InvalidParameterError, UnknownDatasetError
from workbench.paper.feeds import Bar, Feed, ReplayFeed, open_feed, parse_speed


def test_replay_names_a_dataset_and_optionally_its_symbols() -> None:
    feed = open_feed("replay:stocks:MSFT,AAPL", start="2010-01-01", end="2010-01-31")
    assert isinstance(feed, Feed) and feed.symbols == ("MSFT", "AAPL") and feed.frequency == "1D"
    assert open_feed("replay:stocks", ["IBM"], "2010-01-01", "2010-01-31").symbols == ("IBM",)
    assert open_feed("replay:stocks:IBM", ["IBM"], "2010-01-01", "2010-01-31").symbols == ("IBM",)
    synthetic = open_feed("replay:synthetic-5min:n_symbols=2,end=2024-01-03", start="2024-01-02")
    assert synthetic.symbols == ("SYN000", "SYN001") and synthetic.frequency == "5min"


def test_replay_delivers_every_bar_in_order_and_flags_the_last() -> None:
    feed = open_feed("replay:stocks:AAPL", start="2010-01-04", end="2010-01-08")
    feed.start(0)
    bars = [feed.poll(0.1) for _ in range(5)]
    assert [b.timestamp.day for b in bars] == [4, 5, 6, 7, 8] and [b.final for b in bars] == [False] * 4 + [True]
    assert feed.finished and feed.poll(0.1) is None and feed.next_due() is None
    feed.start(3)
    assert feed.poll(0.1).timestamp.day == 7 and feed.recorded(0).timestamp.day == 4


def test_synthetic_is_seeded() -> None:
    a = open_feed("synthetic:seed=3,n_symbols=2,end=2024-01-05")
    b = open_feed("synthetic:seed=3,n_symbols=2,end=2024-01-05")
    c = open_feed("synthetic:seed=4,n_symbols=2,end=2024-01-05")
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.symbols == ("SYN000", "SYN001") and a.frequency == "1h"
    assert open_feed("synthetic:end=2024-01-05", ["SYN001"]).symbols == ("SYN001",)


@pytest.mark.parametrize("text, error, message", [
    ("kafka:prices", InvalidParameterError, "unknown feed 'kafka:prices'"),
    ("replay:", InvalidParameterError, "needs a dataset"),
    ("replay:nope", UnknownDatasetError, "neither a dataset name nor an existing file"),
    ("synthetic:seed", InvalidParameterError, "is not KEY=VALUE"),
    ("synthetic:colour=red", InvalidParameterError, "unknown synthetic parameter 'colour'"),
])
def test_bad_feeds_are_refused(text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        open_feed(text)


def test_symbols_given_twice_must_agree() -> None:
    with pytest.raises(InvalidParameterError, match="the feed names symbols AAPL but --symbols gives MSFT"):
        open_feed("replay:stocks:AAPL", ["MSFT"])


def test_speed_paces_bars_by_their_timestamps() -> None:
    data = open_feed("replay:synthetic-5min:n_symbols=1,end=2024-01-02", start="2024-01-02").data
    feed = ReplayFeed(data.slice(None, data.index[2]), "paced", speed=300 / 0.2)  # 5 minutes -> 0.2 s
    feed.start(0)
    began = time.monotonic()
    assert feed.poll(0.05) is not None  # the first bar is due at once
    assert feed.poll(0.05) is None  # the second is due 0.2 s later
    second = None
    while second is None:
        second = feed.poll(0.05)
    assert 0.18 <= time.monotonic() - began < 1.0
    assert parse_speed("max") == math.inf and parse_speed("60") == 60.0
    for text in ("0", "-1", "fast", "nan"):
        with pytest.raises(InvalidParameterError, match="--speed"):
            parse_speed(text)


def test_bar_problems_are_described() -> None:
    one = np.array([1.0])
    good = Bar(pd.Timestamp("2024-01-02", tz="UTC"), one, one * 1.1, one * 0.9, one, one)
    assert good.problem(1) is None
    assert "expected 2 values" in good.problem(2)
    assert good._replace(open=np.array([np.nan])).problem(1) == "prices must be finite and > 0"
    assert good._replace(volume=-one).problem(1) == "volume must be finite and >= 0"
    assert "high must be >=" in good._replace(high=one * 0.95).problem(1)
    assert "timezone-aware" in good._replace(timestamp=pd.Timestamp("2024-01-02")).problem(1)
