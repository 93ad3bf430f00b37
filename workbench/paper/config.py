"""What a paper-trading session runs, frozen in its state folder at the first start.

A state folder holds ``config.json`` (this module), ``journal.sqlite`` (``workbench.paper.journal``)
and ``lock`` (held by the running loop). The config names the decider (strategy or policy with the
sha256 of what decides), the feed and the data it replays, the costs and the risk limits. A restart
must give the same config: the ledger of a session is one run of one configuration. The pace of a
replay (``--speed``) and the stale-feed grace are not part of it; they may change between starts.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from engine.atomic_files import write_text_atomically
from engine.errors import InvalidParameterError
from engine.names import unknown_name
from engine.scenarios import ScenarioParams
from engine.scenarios.params import RISK_KEYS
from engine.yaml_files import read_yaml
from models.devices import DEVICES, PRECISIONS, REFERENCE_DEVICE, REFERENCE_PRECISION

CONFIG_FILE = "config.json"
JOURNAL_FILE = "journal.sqlite"
LOCK_FILE = "lock"

PARITY_EVENT = "parity"
"""The journal event a start records when its policy decided off CPU fp32: the parity report as JSON."""

@dataclass(frozen=True)
class PaperConfig:
    """A paper-trading session's configuration.

    Attributes:
        feed: The feed as given (``replay:stocks:AAPL,MSFT``, ``synthetic:seed=3``).
        symbols: Traded symbols, in the feed's column order.
        frequency: Bar frequency of the feed (pandas offset alias).
        start, end: Period of a replay (None: the dataset's first / last bar).
        data_fingerprint: Fingerprint of the bars a replay delivers ("" for a live source).
        strategy: Baseline name; exactly one of ``strategy`` and ``policy``.
        strategy_params: ``(key, value)`` strategy parameters as text, sorted.
        policy: Shipped policy name or checkpoint folder (absolute).
        runtime: How the policy runs (``onnx`` / ``torch``); None for a strategy.
        model_sha: sha256 of what decides (ONNX file or weights); "" for a strategy.
        device, precision: Where a policy's network decides (as asked: ``auto`` stays ``auto``).
            Left out of the file at their defaults (``cpu``, ``fp32``), so sessions started before
            they existed keep their configuration and state id.
        fees, slippage: Costs as fractions (``engine.scenarios.ScenarioParams``).
        cash: Initial cash.
        risk: ``(name, value)`` risk limits (``ScenarioParams`` risk fields), sorted by name.
    """

    feed: str
    symbols: tuple[str, ...]
    frequency: str
    start: str | None
    end: str | None
    data_fingerprint: str
    strategy: str | None
    strategy_params: tuple[tuple[str, str], ...]
    policy: str | None
    runtime: str | None
    model_sha: str
    fees: float = 0.0
    slippage: float = 0.0
    cash: float = 100_000.0
    risk: tuple[tuple[str, Any], ...] = ()
    device: str = REFERENCE_DEVICE
    precision: str = REFERENCE_PRECISION

    def __post_init__(self) -> None:
        if (self.strategy is None) == (self.policy is None):
            raise InvalidParameterError("give exactly one of --strategy and --policy")
        object.__setattr__(self, "symbols", tuple(self.symbols))
        object.__setattr__(self, "strategy_params", tuple(sorted((str(k), str(v)) for k, v in self.strategy_params)))
        unknown = [k for k, _ in self.risk if k not in RISK_KEYS]
        if unknown:
            raise InvalidParameterError(unknown_name("risk limit", unknown[0], RISK_KEYS))
        object.__setattr__(self, "risk", tuple(sorted((str(k), v) for k, v in self.risk)))
        if self.device not in DEVICES or self.precision not in PRECISIONS:
            raise InvalidParameterError(f"device {self.device!r} / precision {self.precision!r}: use one of "
                                        f"{', '.join(DEVICES)} / {', '.join(PRECISIONS)}")
        self.params()  # validates costs, cash and limits against their domains

    def params(self) -> ScenarioParams:
        """The account's costs, cash and risk limits."""
        return ScenarioParams(init_cash=self.cash, fees=self.fees, slippage=self.slippage, **dict(self.risk))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; ``PaperConfig.from_dict(c.to_dict()) == c``."""
        out = asdict(self)
        out["symbols"] = list(self.symbols)
        out["strategy_params"] = dict(self.strategy_params)
        out["risk"] = dict(self.risk)
        if self.device == REFERENCE_DEVICE:
            del out["device"]
        if self.precision == REFERENCE_PRECISION:
            del out["precision"]
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "PaperConfig":
        """A config from :meth:`to_dict` output; unknown or missing keys are an error."""
        names = [f.name for f in fields(cls)]
        for key in values:
            if key not in names:
                raise InvalidParameterError(f"{source}: {unknown_name('key', key, names)}")
        kwargs = dict(values)
        kwargs["strategy_params"] = tuple(dict(kwargs.get("strategy_params") or {}).items())
        kwargs["risk"] = tuple(dict(kwargs.get("risk") or {}).items())
        try:
            return cls(**kwargs)
        except TypeError as error:
            raise InvalidParameterError(f"{source}: {error}; the file is not a paper config") from None

    def canonical(self) -> str:
        """The config as canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def sha(self) -> str:
        """SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    @property
    def state_id(self) -> str:
        """Twelve hex digits naming the session in client order ids (equal configs, equal ids)."""
        return self.sha[:12]

    @property
    def decider(self) -> str:
        """The strategy or policy name, for display."""
        return self.strategy if self.strategy is not None else str(self.policy)


def load_risk_file(path: str | Path) -> tuple[tuple[str, Any], ...]:
    """Risk limits from a YAML (or JSON) mapping of ``ScenarioParams`` risk fields.

    Raises:
        InvalidParameterError: the file is missing or not a mapping, a key is unknown (with a
            suggestion) or a cost, or a value is outside its domain; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError(f"{path}: no such risk file")
    values = read_yaml(path)
    if values is None:
        return ()
    if not isinstance(values, Mapping):
        raise InvalidParameterError(f"{path}: a risk file is a mapping of limits to values, e.g. stop_loss: 0.05")
    for key in values:
        if key in ("fees", "slippage", "init_cash"):
            option = "--cash" if key == "init_cash" else f"--{key}"
            raise InvalidParameterError(f"{path}: {key!r} is a cost, not a risk limit; set it with {option}")
        if key not in RISK_KEYS:
            raise InvalidParameterError(f"{path}: {unknown_name('risk limit', key, RISK_KEYS)}")
    try:
        ScenarioParams(**values)
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{path}: {error}") from None
    return tuple(sorted(values.items()))


def read_config(state: Path) -> PaperConfig | None:
    """The state folder's ``config.json``, or None when there is none."""
    path = state / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidParameterError(f"{path}: not valid JSON ({error}); the state folder is damaged") from None
    if not isinstance(values, dict):
        raise InvalidParameterError(f"{path}: not a paper config (a JSON object); the state folder is damaged")
    return PaperConfig.from_dict(values, source=str(path))


def write_config(state: Path, config: PaperConfig) -> Path:
    """Write ``config.json`` atomically (``engine.atomic_files``)."""
    return write_text_atomically(state / CONFIG_FILE, json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")


def config_difference(stored: PaperConfig, given: PaperConfig) -> str | None:
    """The first key whose value differs, described for an error message; None when equal."""
    old, new = (dict(c.to_dict(), device=c.device, precision=c.precision) for c in (stored, given))
    for key in old:
        if not _same(old[key], new[key]):
            return f"{key}: the state has {old[key]!r}, this start gives {new[key]!r}"
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b
