"""Run specifications: what a backtest or experiment runs, frozen and validated.

A :class:`RunSpec` names the decider (a baseline strategy or a trained policy), the data, the
universe, the period, the cost grid, the risk limits, the seed and the experiment's own options.
It is built from CLI options or loaded from a YAML/JSON file; unknown keys, wrong types and
out-of-range risk limits are rejected with an error that names the file, the key and the fix.
Its canonical JSON is the spec part of the run id (``workbench.runs.evaluate.run_id``).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping, TypeVar

from engine.errors import InvalidParameterError
from engine.names import unknown_name
from engine.scenarios import ScenarioParams
from engine.scenarios.params import RISK_KEYS
from engine.yaml_files import read_text, read_yaml
from models.devices import DEVICES, PRECISIONS, REFERENCE_DEVICE, REFERENCE_PRECISION
from strategies.family import RUNTIMES

OptionsT = TypeVar("OptionsT")
DEFAULT_KIND = "backtest"
"""The kind of a spec that names none."""


@dataclass(frozen=True)
class RunSpec:
    """A run: decider, data, universe, period, cost grid, risk limits, seed, experiment options.

    Attributes:
        kind: What runs it: a run kind's name (``workbench.runs.RUN_KINDS``: ``backtest``,
            ``stress``, ``sweep``, ``compare``, ``walkforward``, ``paper``).
        data: Dataset name (built-in or imported) or file path.
        strategy: Baseline name (``strategies.families.baseline``); exactly one of ``strategy`` and ``policy``.
        strategy_params: ``(key, value)`` parameters of the strategy, as text (``fast=20``).
        policy: A shipped policy's name or a checkpoint folder.
        runtime: How a policy runs: ``auto`` (ONNX when the checkpoint has a verified export and the
            precision is fp32, else torch), ``onnx`` or ``torch``. Ignored for a strategy.
        device: Where a policy's network decides: ``cpu`` (default), ``cuda`` or ``auto`` (CUDA when
            torch sees it). Ignored for a strategy (a rule has no network).
        precision: ``fp32`` (default), ``bf16`` or ``fp16`` (CUDA only); off CPU fp32 the run reports
            its parity with CPU fp32. Ignored for a strategy.
        symbols: Symbols to trade (None: every symbol of the dataset).
        start, end: Inclusive dates (None: the dataset's first / last bar).
        fees, slippage: Cost grid axes; each combination is one scenario.
        cash: Initial cash of every scenario.
        risk: ``(name, value)`` overrides of ``engine.scenarios.ScenarioParams`` risk fields
            (position_limit, gross_limit, stop_loss, max_drawdown, ...), sorted by name.
        seed: Seed of everything random in the run (bootstrap, GARCH, random baselines, retraining).
        options: ``(name, value)`` options of the experiment, sorted by name; each experiment
            validates its own with :func:`parse_options`.
    """

    data: str
    kind: str = DEFAULT_KIND
    strategy: str | None = None
    strategy_params: tuple[tuple[str, str], ...] = ()
    policy: str | None = None
    runtime: str = "auto"
    device: str = REFERENCE_DEVICE
    precision: str = REFERENCE_PRECISION
    symbols: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    fees: tuple[float, ...] = (0.0,)
    slippage: tuple[float, ...] = (0.0,)
    cash: float = 100_000.0
    risk: tuple[tuple[str, float], ...] = ()
    seed: int = 0
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        from workbench.runs.registry import (
            RUN_KINDS,  # the registry imports this module
        )

        if self.kind not in RUN_KINDS:
            raise InvalidParameterError(f"RunSpec.kind {self.kind!r} is not one of {', '.join(RUN_KINDS)}")
        if not isinstance(self.data, str) or not self.data:
            raise InvalidParameterError("RunSpec.data must name a dataset or a file, e.g. data: stocks")
        if (self.strategy is None) == (self.policy is None):
            raise InvalidParameterError(
                "give exactly one of a strategy (--strategy, spec key 'strategy') and a policy "
                "(--policy, spec key 'policy')")
        for name in ("start", "end"):  # YAML reads an unquoted 2005-01-01 as a date
            value = getattr(self, name)
            if isinstance(value, (datetime.date, datetime.datetime)):
                set_(name, value.isoformat())
            elif value is not None and not isinstance(value, str):
                raise InvalidParameterError(f"RunSpec.{name} {value!r} is not a date; write e.g. 2005-01-01")
        if self.runtime not in RUNTIMES:
            raise InvalidParameterError(f"RunSpec.runtime {self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        if self.device not in DEVICES:
            raise InvalidParameterError(f"RunSpec.device {self.device!r} is not one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise InvalidParameterError(f"RunSpec.precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        set_("strategy_params", tuple(sorted((str(k), str(v)) for k, v in self.strategy_params)))
        if self.symbols is not None:
            symbols = tuple(str(s).strip() for s in self.symbols if str(s).strip())
            if not symbols:
                raise InvalidParameterError("RunSpec.symbols is empty; leave it out to trade every symbol")
            set_("symbols", symbols)
        for name in ("fees", "slippage"):
            values = tuple(_number(f"RunSpec.{name}", v) for v in _as_tuple(getattr(self, name)))
            if not values:
                raise InvalidParameterError(f"RunSpec.{name} is empty; give at least one value, e.g. 0")
            set_(name, values)
        set_("cash", _number("RunSpec.cash", self.cash))
        risk = dict(self.risk)
        unknown = sorted(set(risk) - set(RISK_KEYS))
        if unknown:
            raise InvalidParameterError(unknown_name("RunSpec.risk", unknown[0], RISK_KEYS))
        set_("risk", tuple(sorted(risk.items())))
        self.base_params()  # validates every limit against its domain
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidParameterError(f"RunSpec.seed {self.seed!r} must be an integer >= 0")
        set_("options", tuple(sorted((str(k), _frozen(v)) for k, v in dict(self.options).items())))

    def base_params(self) -> ScenarioParams:
        """Scenario parameters before the cost grid: cash and risk limits."""
        return ScenarioParams(init_cash=self.cash, **dict(self.risk))

    def canonical(self) -> str:
        """The spec as canonical JSON (sorted keys), the spec part of the run id.

        ``device`` and ``precision`` are left out: they say where a network decides, not what runs.
        The run id takes what the decider resolved them to instead (``Decider.placement_key``, empty
        on CPU fp32), so a spec of a CPU fp32 run keeps the id it had before they existed, ``auto``
        on a machine without CUDA is the same run as ``cpu``, and a baseline is the same run
        wherever it is asked to go.
        """
        out = self.to_dict()
        del out["device"], out["precision"]
        return json.dumps(out, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; ``RunSpec.from_dict(spec.to_dict()) == spec``."""
        out = asdict(self)
        out["strategy_params"] = dict(self.strategy_params)
        out["risk"] = dict(self.risk)
        out["options"] = {k: _thawed(v) for k, v in self.options}
        out["symbols"] = list(self.symbols) if self.symbols is not None else None
        out["fees"], out["slippage"] = list(self.fees), list(self.slippage)
        return out

    @property
    def decider(self) -> str:
        """The strategy or policy name, for display."""
        return self.strategy if self.strategy is not None else str(self.policy)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "spec") -> "RunSpec":
        """A spec from a mapping (e.g. parsed YAML); ``source`` names it in errors."""
        if not isinstance(values, Mapping):
            raise InvalidParameterError(f"{source}: a run spec is a mapping of keys to values, got {type(values).__name__}")
        names = [f.name for f in fields(cls)]
        for key in values:
            if key not in names:
                raise InvalidParameterError(f"{source}: {unknown_name('key', key, names)}")
        kwargs = dict(values)
        for key in ("strategy_params", "risk", "options"):
            if key in kwargs:
                value = kwargs[key] or {}
                if not isinstance(value, Mapping):
                    raise InvalidParameterError(f"{source}: {key} must be a mapping of names to values")
                kwargs[key] = tuple(value.items())
        for key in ("symbols", "fees", "slippage"):
            value = kwargs.get(key)
            if isinstance(value, str):
                kwargs[key] = tuple(s.strip() for s in value.split(","))
            elif isinstance(value, (list, tuple)):
                kwargs[key] = tuple(value)
            elif value is not None and key == "symbols":
                raise InvalidParameterError(
                    f"{source}: symbols must be a list of symbol names (or one comma-separated string), "
                    f"got {value!r}")
            # a single fees or slippage number is a grid of one value (RunSpec takes it as such)
        try:
            return cls(**kwargs)
        except InvalidParameterError as error:
            raise InvalidParameterError(f"{source}: {error}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> "RunSpec":
        """A spec from a ``.yaml``/``.yml``/``.json`` file."""
        path = Path(path)
        if not path.is_file():
            raise InvalidParameterError(f"{path}: no such spec file")
        if path.suffix == ".json":
            try:
                values = json.loads(read_text(path))
            except json.JSONDecodeError as error:
                raise InvalidParameterError(f"{path}: not valid JSON ({error}); fix the syntax") from None
        else:
            values = read_yaml(path)
        return cls.from_dict(values, source=str(path))

    def replace(self, **changes: Any) -> "RunSpec":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def parse_options(spec: RunSpec, options_cls: type[OptionsT]) -> OptionsT:
    """The spec's experiment options as ``options_cls`` (a dataclass with defaults for every field).

    Unknown option names are rejected with a suggestion; values are passed to the dataclass, whose
    ``__post_init__`` validates them.
    """
    names = [f.name for f in fields(options_cls)]
    given = {k: _thawed(v) for k, v in spec.options}
    for key in given:
        if key not in names:
            raise InvalidParameterError(f"{spec.kind} {unknown_name('option', key, names)}")
    return options_cls(**given)


def _as_tuple(value: Any) -> tuple:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise InvalidParameterError(f"{name} {value!r} is not a finite number")
    return float(value)


def _frozen(value: Any) -> Any:
    """Lists and dicts as tuples, dates as ISO text, so the spec stays hashable and JSON-able."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
            return {k: _thawed(v) for k, v in value}
        return [_thawed(v) for v in value]
    return value
