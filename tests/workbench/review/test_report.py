"""The HTML report: self-contained (no external resource), every section present, gates coloured."""
from __future__ import annotations

import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.workbench.review import fakes
from tests.workbench.review.test_evidence import PASSED
from workbench.review.assess import Assessment
from workbench.review.evidence import collect_evidence
from workbench.review.gates import DEFAULT_GATES, evaluate_gates, verdict
from workbench.review.report import ReviewRecord, render_report, write_report

SECTIONS = ("decision", "summary", "gates", "equity", "underwater", "stress", "sensitivity", "comparison",
            "walkforward",
            "regimes", "canary", "fingerprints")


class Page(HTMLParser):
    """Collects external references, section ids, gate rows and script tags."""

    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.sections: list[str] = []
        self.row_classes: list[str] = []
        self.scripts_with_src: list[str] = []
        self.in_gates = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "data", "action", "poster"):
            value = attributes.get(name) or ""
            if value.startswith(("http:", "https:", "//", "ftp:")):
                self.external.append(f"<{tag} {name}={value}>")
        if tag == "script" and "src" in attributes:
            self.scripts_with_src.append(str(attributes["src"]))
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.external.append(f"<link {attributes.get('href')}>")
        if tag == "section":
            self.sections.append(str(attributes.get("id")))
            self.in_gates = attributes.get("id") == "gates"
        if tag == "tr" and self.in_gates and attributes.get("class"):
            self.row_classes.append(str(attributes["class"]))


def assessment(runs) -> Assessment:
    evidence = collect_evidence(runs, canary=PASSED)
    results = tuple(evaluate_gates(DEFAULT_GATES, evidence))
    return Assessment(tuple(runs), DEFAULT_GATES, evidence, results, verdict(results))


RECORD = ReviewRecord("alice", "CONDITIONAL GO", "ship <b>after</b> latency work", "2024-05-01T12:00:00+00:00")


@pytest.fixture(scope="module")
def full_report() -> tuple[str, Assessment]:
    review = assessment([fakes.compare(), fakes.backtest(scenarios=[fakes.scenario("a", win_rate=0.4)]),
                         fakes.stress(), fakes.sweep(), fakes.walkforward()])
    return render_report(review, RECORD), review


def test_the_report_is_self_contained(full_report) -> None:
    text, _ = full_report
    page = Page()
    page.feed(text)
    assert page.external == [] and page.scripts_with_src == []
    assert "Bokeh" in text and "<script" in text  # BokehJS itself is inlined
    # Issue 17: BokehJS's source names the MathJax CDN it would use for TeX labels (and two more loaders);
    # the report blanks them, so no CDN reference is left in the file at all.
    assert "<script src=" not in text and "<link" not in text and 'src="http' not in text
    assert re.search(r"https?://(cdn|maps\.googleapis)", text) is None and "mathjax@" not in text


def test_the_report_stays_self_contained_in_a_process_that_imported_panel() -> None:
    # Regression (issue 6): the app server imports Panel, which registers its extension files in
    # bokeh's resources; a report rendered there carried a relative <script src> to one of them.
    import panel  # noqa: F401  (the import itself changes bokeh's resources)

    text = render_report(assessment([fakes.compare(), fakes.stress()]), RECORD)
    page = Page()
    page.feed(text)
    assert page.scripts_with_src == [] and page.external == [] and "static/extensions" not in text


def test_every_section_is_there_and_the_gate_rows_are_coloured(full_report) -> None:
    text, review = full_report
    page = Page()
    page.feed(text)
    assert tuple(page.sections) == SECTIONS
    expected = [{"PASS": "pass", "FAIL": "fail", "MISSING": "missing", "N/A": "na"}[r.status] for r in review.results]
    assert page.row_classes == expected and "fail" in expected and "na" in expected
    for name in ("equity", "underwater", "stress_max_drawdown", "stress_total_return", "sweep_sw01_sharpe",
                 "walkforward_wf01"):
        assert f"<!--plot:{name}-->" not in text  # every placeholder was replaced by its plot
    # equity, underwater, two stress histograms, two sweep surfaces, the walk-forward curve
    assert text.count("data-root-id") == 7


def test_the_header_fingerprints_and_tables_hold_the_reviewed_facts(full_report) -> None:
    text, review = full_report
    assert "CONDITIONAL GO" in text and "alice" in text and review.verdict.rule in text
    assert "ship &lt;b&gt;after&lt;/b&gt; latency work" in text  # notes are escaped
    assert "overrides the computed verdict" not in text  # the fixture's verdict is CONDITIONAL GO too
    assert review.verdict.decision == "CONDITIONAL GO"
    for run_id in ("cmp01", "bt01", "st01", "sw01", "wf01"):
        assert f"spec of {run_id}" in text
    assert "f" * 64 in text and "0.1.0+test" in text
    assert "trend_regime" in text and "positions.long" in text  # per-regime table, flattened
    assert "Break-even fees" in text and "<td>15 bp</td>" in text  # a cost reads in basis points
    assert "stocks AAPL 2005..2006, 300 bars" in text  # canary window


def test_sections_without_evidence_say_which_run_would_fill_them() -> None:
    text = render_report(assessment([replace(fakes.walkforward(), frames={})]), RECORD)
    page = Page()
    page.feed(text)
    assert tuple(page.sections) == SECTIONS
    assert "(a backtest or a comparison)" in text and "No stress run" in text and "No sweep run" in text
    assert "No comparison among the reviewed runs" in text
    assert "<script" not in text  # no plots, no BokehJS
    assert "overrides the computed verdict (NO-GO)" in text


def test_the_comparison_section_shows_the_statistics_and_their_warnings(full_report) -> None:
    text, _ = full_report
    section = text[text.index('<section id="comparison">'):text.index('<section id="walkforward">')]
    for expected in ("Reality check", "does the candidate beat every alternative?", "upper (White)",
                     "closest alternative: buy_and_hold", "Deciders and the model confidence set", "MCS p-value",
                     "Deflated Sharpe ratio", "effective", "1.2", "mean pairwise return correlation (0.8)",
                     "Probability of backtest overfitting", "median ties", "ties as overfit"):
        assert expected in section, expected
    assert '<p class="warning">Warning: only 2 variants (PBO needs 5 or more to carry information)</p>' in section


def test_write_report_is_atomic_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.html"
    with pytest.raises(FileNotFoundError):
        write_report(path, "no folder")  # issue 16: the report's folder is never created silently
    path.parent.mkdir()
    write_report(path, "first")
    write_report(path, "second")
    assert path.read_text() == "second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]  # no temporary leftovers
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.html"
    write_report(path, "old")

    def refuse(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_report(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_issue17_the_summary_block_opens_the_report_with_the_warnings_of_an_inactive_policy() -> None:
    inactive = fakes.backtest(scenarios=[fakes.scenario("fees=0.001", n_trades=3, exposure=0.035,
                                                        time_in_market=0.1, win_rate=None, n_closed_trades=0)])
    text = render_report(assessment([inactive]), RECORD)
    section = text[text.index('<section id="summary">'):text.index('<section id="gates">')]
    assert "Warning: Too few trades for the statistics to mean anything: 3 trades" in section
    assert "Warning: Mostly in cash: mean exposure 3.50% of equity" in section
    assert "<th>best baseline (" in section and "<td>Sharpe</td>" in section
    # The baselines are drawn dashed beside the candidate in "Equity vs baselines".
    equity = text[text.index('<section id="equity">'):text.index('<section id="underwater">')]
    assert "Dashed: the baselines" in equity


def test_issue17_stress_quantiles_read_in_order_and_drawdowns_read_negative(full_report) -> None:
    text, _ = full_report
    section = text[text.index('<section id="stress">'):text.index('<section id="sensitivity">')]
    order = [section.index(f"<td>{name}</td>") for name in ("lowest", "5th percentile", "25th percentile", "median",
                                                             "75th percentile", "95th percentile", "highest")]
    assert order == sorted(order)
    assert "<td>-35.0%</td>" in section  # the deepest stress drawdown, as a loss
    # No cost or return in scientific notation (1.931e-05); only the ONNX parity bound, a tiny number by nature.
    assert re.findall(r"\d\.\d+e-\d+", re.sub(r"<script.*?</script>", "", text, flags=re.S)) == ["1.00e-04"]
