"""Catalogue of named historical stress periods that the embedded daily data covers.

Dates are US trading dates, inclusive, chosen as peak-to-trough (or event window) of the S&P 500 or
NASDAQ Composite; ``source`` says where the dates come from. A stress test replays every period
that a dataset covers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.data.market import MarketData, to_utc


@dataclass(frozen=True)
class StressPeriod:
    """A named historical stress window."""

    key: str
    name: str
    start: str
    end: str
    source: str

    def covered_by(self, data: MarketData) -> bool:
        """Whether ``data`` has bars over the whole window."""
        first, last = data.index[0], data.index[-1]
        return first <= to_utc(self.start) and to_utc(self.end) <= last

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


STRESS_PERIODS: tuple[StressPeriod, ...] = (
    StressPeriod("dotcom_bust", "Dot-com bust", "2000-03-10", "2002-10-09",
                 "NASDAQ Composite closing peak 5,048.62 on 2000-03-10 to its trough of 1,114.11 on 2002-10-09"),
    StressPeriod("sept_11", "September 11 attacks", "2001-09-10", "2001-09-28",
                 "NYSE closed 2001-09-11 to 09-14; S&P 500 fell 11.6% in the week of reopening (2001-09-17 to 09-21)"),
    StressPeriod("bear_2002", "2002 bear market", "2002-03-19", "2002-10-09",
                 "S&P 500 from its 2002 high of 1,170.29 (2002-03-19) to the bear-market low of 776.76 (2002-10-09)"),
    StressPeriod("gfc_2007_09", "2007-09 financial crisis", "2007-10-09", "2009-03-09",
                 "S&P 500 closing high 1,565.15 on 2007-10-09 to the closing low 676.53 on 2009-03-09"),
    StressPeriod("lehman_weeks", "Lehman weeks", "2008-09-12", "2008-10-10",
                 "Lehman Brothers filed for bankruptcy on 2008-09-15; S&P 500 fell about 25% to 2008-10-10"),
    StressPeriod("flash_crash_2010", "2010 flash crash", "2010-05-05", "2010-05-07",
                 "2010-05-06 intraday crash (Dow -9% within minutes); SEC/CFTC joint report, 2010-09-30"),
    StressPeriod("aug_2011", "August 2011 (US downgrade)", "2011-07-22", "2011-10-03",
                 "S&P downgraded US debt on 2011-08-05; S&P 500 fell 19.4% from 2011-07-22 to 2011-10-03"),
    StressPeriod("selloff_2015_16", "2015-16 selloff", "2015-08-17", "2016-02-11",
                 "Yuan devaluation (2015-08-11) and the 2015-08-24 crash to the 2016-02-11 low of the S&P 500"),
    StressPeriod("feb_2018", "February 2018 volatility shock", "2018-01-26", "2018-02-08",
                 "S&P 500 record close 2,872.87 on 2018-01-26; VIX spike of 2018-02-05; -10.2% by 2018-02-08"),
    StressPeriod("q4_2018", "Q4 2018 selloff", "2018-09-20", "2018-12-24",
                 "S&P 500 closing high 2,930.75 on 2018-09-20 to 2,351.10 on 2018-12-24"),
)


def periods_covered(data: MarketData) -> list[StressPeriod]:
    """The catalogue's periods that lie entirely inside ``data``'s time range."""
    return [p for p in STRESS_PERIODS if p.covered_by(data)]

