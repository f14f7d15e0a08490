"""Scenario files (TOML): what a task-force evaluation runs. Validated on load, frozen afterwards.

A scenario names the offices with their weekly volumes and record-kind mix, the batch sizes to
price, the chain's block time and confirmations, the gas price and currency rate, the fault and
governance events to inject and the verdict probes. See ``default.toml`` (documented field by field)
and ``small.toml``. Every field has a default, so a scenario file may set only what differs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from registry.errors import InputError
from registry.evaluate.samples import KINDS as SAMPLE_KINDS

#: Record kinds a scenario can ask for: the sample generator's, plus sealed (unpublished) records.
RECORD_KINDS = (*SAMPLE_KINDS, "sealed")
#: Events a scenario can inject.
EVENT_KINDS = (
    "node-outage",
    "kill-anchorer",
    "admit",
    "suspend",
    "rotate-key",
    "compromise-key",
    "reorg",
    "long-node-outage",
    "authority-outage",
    "monitor-outage",
    "freeze-mid-anchor",
)
PROBE_KINDS = ("tampered", "revoked", "superseded", "unknown", "unauthorised")
#: Arrival processes of the latency phase's records.
ARRIVALS = ("poisson", "burst")
BUILTIN = {"default": "default.toml", "small": "small.toml", "large": "large.toml"}


@dataclass(frozen=True, slots=True)
class OfficeLoad:
    """One office's weekly publication volume and its mix of record kinds (fractions summing to 1)."""

    code: str
    weekly_volume: int
    kinds: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class Event:
    """An injected event: a fault (node outage, killed anchorer) or a governance action."""

    kind: str
    office: str | None = None
    name: str = ""
    seconds: float = 0.0
    #: Hours the chain's clock moves on during an outage (time scaled: the wall clock waits ``seconds``).
    hours: float = 0.0


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """The consortium network the offices would run (Besu QBFT at zero gas price) and the public prices compared."""

    validators: int = 0  # 0: one validator per scenario office
    rpc_nodes_per_office: int = 1
    block_period_seconds: int = 2
    block_gas_limit: int = 50_000_000
    qbft_message_bytes: int = 200
    l2_gas_price_gwei: float = 0.01
    empty_block_period_seconds: int = 60


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole evaluation, as read from TOML."""

    name: str
    description: str
    seed: int
    offices: tuple[OfficeLoad, ...]
    weeks: int = 1
    pipeline_batch_size: int = 2_000
    batch_sizes: tuple[int, ...] = (1, 10, 100, 1_000, 10_000, 100_000)
    per_record_samples: int = 20
    eas_attest_samples: int = 20
    eas_multi_sizes: tuple[int, ...] = (1, 10, 50)
    block_time: float = 2.0
    confirmations: int = 3
    latency_rounds: int = 6
    latency_records: int = 200
    #: Seconds of scenario time between anchoring runs (a batch closes when full or when the interval ends).
    batch_interval: float = 3_600.0
    #: How the latency phase's records arrive: "poisson" (at the weekly volumes) or "burst" (records_per_round).
    arrival: str = "poisson"
    gas_price_gwei: float = 20.0
    currency: str = "EUR"
    eth_price: float = 3_000.0
    verify_samples: int = 200
    events: tuple[Event, ...] = ()
    probes: tuple[tuple[str, int], ...] = field(default=tuple((k, 2) for k in PROBE_KINDS))
    tsa_record_samples: int = 20
    tsa_price_per_token: float = 0.02
    log_server_cost_per_year: float = 2_400.0
    governance_practice: bool = True
    governance_blocks_per_day: int = 24
    governance_ttl_days: float = 7.0
    source: str = "built-in"
    #: Bundles verified from the chain archive at the end of the run (besides the probes' and altered copies).
    archive_samples: int = 40
    #: Seconds per block of the chain whose archive is sized per year (12: Ethereum mainnet; a QBFT chain ~2).
    archive_block_seconds: float = 12.0
    compare_samples: int = 5
    volume_scale: float = 1.0
    network: NetworkSpec = field(default_factory=NetworkSpec)

    @property
    def weekly_volume(self) -> int:
        """Records per week, all offices."""
        return sum(o.weekly_volume for o in self.offices)

    def events_of(self, *kinds: str) -> list[Event]:
        """The injected events of the given kinds, in scenario order."""
        return [e for e in self.events if e.kind in kinds]

    def to_json(self) -> dict[str, Any]:
        """The scenario as run, for the report."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "seed": self.seed,
            "weeks": self.weeks,
            "offices": [
                {"code": o.code, "weeklyVolume": o.weekly_volume, "kinds": dict(o.kinds)} for o in self.offices
            ],
            "pipelineBatchSize": self.pipeline_batch_size,
            "batchSizes": list(self.batch_sizes),
            "perRecordSamples": self.per_record_samples,
            "easAttestSamples": self.eas_attest_samples,
            "easMultiAttestSizes": list(self.eas_multi_sizes),
            "blockTime": self.block_time,
            "confirmations": self.confirmations,
            "latencyRounds": self.latency_rounds,
            "latencyRecords": self.latency_records,
            "batchIntervalSeconds": self.batch_interval,
            "arrival": self.arrival,
            "gasPriceGwei": self.gas_price_gwei,
            "currency": self.currency,
            "ethPrice": self.eth_price,
            "verifySamples": self.verify_samples,
            "events": [
                {"kind": e.kind, "office": e.office, "name": e.name, "seconds": e.seconds, "hours": e.hours}
                for e in self.events
            ],
            "probes": dict(self.probes),
            "compareSamples": self.compare_samples,
            "volumeScale": self.volume_scale,
            "network": {
                "validators": self.network.validators,
                "rpcNodesPerOffice": self.network.rpc_nodes_per_office,
                "blockPeriodSeconds": self.network.block_period_seconds,
                "blockGasLimit": self.network.block_gas_limit,
                "qbftMessageBytes": self.network.qbft_message_bytes,
                "l2GasPriceGwei": self.network.l2_gas_price_gwei,
                "emptyBlockPeriodSeconds": self.network.empty_block_period_seconds,
            },
            "alternatives": {
                "tsaRecordSamples": self.tsa_record_samples,
                "tsaPricePerToken": self.tsa_price_per_token,
                "logServerCostPerYear": self.log_server_cost_per_year,
            },
            "archive": {"samples": self.archive_samples, "blockSeconds": self.archive_block_seconds},
            "governance": {
                "practice": self.governance_practice,
                "blocksPerDay": self.governance_blocks_per_day,
                "ttlDays": self.governance_ttl_days,
            },
        }

    def pushed(self, office: OfficeLoad) -> int:
        """Records of ``office`` pushed through the pipeline: its weeks of volume times ``volume_scale``."""
        return max(1, round(office.weekly_volume * self.weeks * self.volume_scale))


def _fail(source: str, message: str) -> InputError:
    return InputError(f"scenario {source}: {message}")


def _int(table: dict[str, Any], key: str, default: int, source: str, low: int = 0, high: int = 10**7) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(source, f"{key} must be a whole number between {low} and {high}, got {value!r}")
    return value


def _float(table: dict[str, Any], key: str, default: float, source: str, low: float = 0.0, high: float = 1e9) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        raise _fail(source, f"{key} must be a number between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _whole_seconds(value: float, source: str) -> float:
    if value != int(value):
        raise _fail(source, f"chain.block_time must be whole seconds (anvil's interval mining), got {value:g}")
    return value


def _code(value: Any, source: str, what: str) -> str:
    if not (isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
        raise _fail(source, f"{what} must be a two-letter ST.3 code such as EP, got {value!r}")
    return value


def _unknown(table: dict[str, Any], known: set[str], source: str, where: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise _fail(source, f"unknown key(s) in {where}: {', '.join(extra)}")


def parse_scenario(text: str, source: str = "<text>") -> Scenario:
    """Parse and validate a scenario; InputError naming the first problem."""
    try:
        body = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, f"not valid TOML: {exc}") from None
    sections = {"chain", "cost", "pipeline", "latency", "verify", "offices", "events", "probes", "alternatives",
                "archive", "governance", "network"}  # fmt: skip
    _unknown(body, {"name", "description", "seed", *sections}, source, "the top level")
    for name in sections - {"offices", "events"}:
        if not isinstance(body.get(name, {}), dict):
            raise _fail(source, f"[{name}] must be a table")
    chain, cost, pipeline = body.get("chain", {}), body.get("cost", {}), body.get("pipeline", {})
    latency, verify, probes = body.get("latency", {}), body.get("verify", {}), body.get("probes", {})
    net = body.get("network", {})
    _unknown(net, {"validators", "rpc_nodes_per_office", "block_period_seconds", "block_gas_limit",
                   "qbft_message_bytes", "l2_gas_price_gwei", "empty_block_period_seconds"}, source,
             "[network]")  # fmt: skip
    alternatives = body.get("alternatives", {})
    _unknown(alternatives, {"tsa_record_samples", "tsa_price_per_token", "log_server_cost_per_year"}, source,
             "[alternatives]")  # fmt: skip
    _unknown(chain, {"block_time", "confirmations"}, source, "[chain]")
    _unknown(
        cost,
        {"gas_price_gwei", "currency", "eth_price", "batch_sizes", "per_record_samples", "eas_attest_samples",
         "eas_multi_attest_sizes", "compare_samples"},
        source,
        "[cost]",
    )  # fmt: skip
    _unknown(pipeline, {"batch_size", "weeks", "batch_interval_seconds", "volume_scale"}, source, "[pipeline]")
    _unknown(latency, {"rounds", "records_per_round", "arrival"}, source, "[latency]")
    arrival = latency.get("arrival", "poisson")
    if arrival not in ARRIVALS:
        raise _fail(source, f"latency.arrival must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
    _unknown(verify, {"samples"}, source, "[verify]")
    _unknown(probes, set(PROBE_KINDS), source, "[probes]")
    archive = body.get("archive", {})
    _unknown(archive, {"samples", "block_seconds"}, source, "[archive]")
    gov = body.get("governance", {})
    _unknown(gov, {"practice", "blocks_per_day", "ttl_days"}, source, "[governance]")
    practice = gov.get("practice", True)
    if not isinstance(practice, bool):
        raise _fail(source, f"governance.practice must be true or false, got {practice!r}")

    offices_raw = body.get("offices")
    if not isinstance(offices_raw, list) or not offices_raw:
        raise _fail(source, "needs at least one [[offices]] entry")
    offices: list[OfficeLoad] = []
    for i, o in enumerate(offices_raw):
        if not isinstance(o, dict):
            raise _fail(source, f"offices[{i}] must be a table")
        _unknown(o, {"code", "weekly_volume", "kinds"}, source, f"offices[{i}]")
        code = _code(o.get("code"), source, f"offices[{i}].code")
        volume = _int(o, "weekly_volume", 0, source, 1, 1_000_000)
        kinds = o.get("kinds", {"st96-patent": 1.0})
        if not isinstance(kinds, dict) or not kinds:
            raise _fail(source, f"offices[{i}].kinds must be a table of kind = fraction")
        for kind, share in kinds.items():
            if kind not in RECORD_KINDS:
                raise _fail(source, f"offices[{i}].kinds: unknown kind {kind!r} (one of {', '.join(RECORD_KINDS)})")
            if isinstance(share, bool) or not isinstance(share, int | float) or share < 0:
                raise _fail(source, f"offices[{i}].kinds.{kind} must be a fraction >= 0")
        total = sum(float(v) for v in kinds.values())
        if abs(total - 1.0) > 1e-6:
            raise _fail(source, f"offices[{i}].kinds fractions add up to {total:g}, not 1")
        offices.append(OfficeLoad(code, volume, tuple((k, float(v)) for k, v in kinds.items())))
    codes = [o.code for o in offices]
    if len(set(codes)) != len(codes):
        raise _fail(source, "an office is listed twice")

    events: list[Event] = []
    events_raw = body.get("events", [])
    if not isinstance(events_raw, list):
        raise _fail(source, "events must be an array of tables ([[events]])")
    for i, e in enumerate(events_raw):
        if not isinstance(e, dict):
            raise _fail(source, f"events[{i}] must be a table")
        _unknown(e, {"kind", "office", "name", "seconds", "hours"}, source, f"events[{i}]")
        kind = e.get("kind")
        if kind not in EVENT_KINDS:
            raise _fail(source, f"events[{i}].kind must be one of {', '.join(EVENT_KINDS)}, got {kind!r}")
        office = _code(e["office"], source, f"events[{i}].office") if "office" in e else None
        if kind in ("admit", "suspend", "rotate-key", "compromise-key") and office is None:
            raise _fail(source, f"events[{i}] ({kind}) needs an office")
        if kind == "admit" and office in codes:
            raise _fail(source, f"events[{i}] admits {office}, which is already a scenario office")
        seconds, hours = _float(e, "seconds", 3.0, source, 0.0, 60.0), _float(e, "hours", 0.0, source, 0.0, 8760.0)
        events.append(Event(kind, office, str(e.get("name", "")), seconds, hours))

    sizes = cost.get("batch_sizes", [1, 10, 100, 1_000, 10_000, 100_000])
    if not isinstance(sizes, list) or not sizes or not all(isinstance(s, int) and 1 <= s <= 1_000_000 for s in sizes):
        raise _fail(source, "cost.batch_sizes must be a list of whole numbers from 1 to 1,000,000")
    multi = cost.get("eas_multi_attest_sizes", [1, 10, 50])
    if not isinstance(multi, list) or not all(isinstance(s, int) and 1 <= s <= 500 for s in multi):
        raise _fail(source, "cost.eas_multi_attest_sizes must be a list of whole numbers from 1 to 500")
    currency = cost.get("currency", "EUR")
    if not (isinstance(currency, str) and 1 <= len(currency) <= 8 and currency.isalnum()):
        raise _fail(source, f"cost.currency must be a short code such as EUR, got {currency!r}")
    name = body.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise _fail(source, "name must be a non-empty string")
    return Scenario(
        name=name,
        description=str(body.get("description", "")),
        seed=_int(body, "seed", 2026, source, 0, 2**63),
        offices=tuple(offices),
        weeks=_int(pipeline, "weeks", 1, source, 1, 52),
        pipeline_batch_size=_int(pipeline, "batch_size", 2_000, source, 1, 1_000_000),
        batch_sizes=tuple(sorted(set(sizes))),
        per_record_samples=_int(cost, "per_record_samples", 20, source, 1, 1_000),
        eas_attest_samples=_int(cost, "eas_attest_samples", 20, source, 1, 1_000),
        eas_multi_sizes=tuple(sorted(set(multi))),
        block_time=_whole_seconds(_float(chain, "block_time", 2.0, source, 0.0, 60.0), source),
        confirmations=_int(chain, "confirmations", 3, source, 1, 64),
        latency_rounds=_int(latency, "rounds", 6, source, 1, 100),
        latency_records=_int(latency, "records_per_round", 200, source, 1, 100_000),
        batch_interval=_float(pipeline, "batch_interval_seconds", 3_600.0, source, 1.0, 604_800.0),
        arrival=arrival,
        gas_price_gwei=_float(cost, "gas_price_gwei", 20.0, source, 0.0, 1e6),
        currency=currency,
        eth_price=_float(cost, "eth_price", 3_000.0, source, 0.0, 1e9),
        verify_samples=_int(verify, "samples", 200, source, 1, 100_000),
        events=tuple(events),
        probes=tuple((k, _int(probes, k, 2, source, 0, 100)) for k in PROBE_KINDS),
        tsa_record_samples=_int(alternatives, "tsa_record_samples", 20, source, 1, 10_000),
        tsa_price_per_token=_float(alternatives, "tsa_price_per_token", 0.02, source, 0.0, 1e6),
        log_server_cost_per_year=_float(alternatives, "log_server_cost_per_year", 2_400.0, source, 0.0, 1e9),
        governance_practice=practice,
        governance_blocks_per_day=_int(gov, "blocks_per_day", 24, source, 1, 1_440),
        governance_ttl_days=_float(gov, "ttl_days", 7.0, source, 2.0, 30.0),
        source=source,
        compare_samples=_int(cost, "compare_samples", 5, source, 1, 100),
        volume_scale=_float(pipeline, "volume_scale", 1.0, source, 1e-6, 1.0),
        network=NetworkSpec(
            validators=_int(net, "validators", 0, source, 0, 100),
            rpc_nodes_per_office=_int(net, "rpc_nodes_per_office", 1, source, 0, 10),
            block_period_seconds=_int(net, "block_period_seconds", 2, source, 1, 60),
            block_gas_limit=_int(net, "block_gas_limit", 50_000_000, source, 1_000_000, 10**10),
            qbft_message_bytes=_int(net, "qbft_message_bytes", 200, source, 50, 100_000),
            l2_gas_price_gwei=_float(net, "l2_gas_price_gwei", 0.01, source, 1e-6, 1e6),
            empty_block_period_seconds=_int(net, "empty_block_period_seconds", 60, source, 1, 86_400),
        ),
        archive_samples=_int(archive, "samples", 40, source, 0, 100_000),
        archive_block_seconds=_float(archive, "block_seconds", 12.0, source, 0.1, 3_600.0),
    )


def load_scenario(path: Path | None = None, builtin: str = "default") -> Scenario:
    """A scenario from ``path``, or the built-in one (``default`` or ``small``)."""
    if path is None:
        text = resources.files("registry.evaluate").joinpath(BUILTIN[builtin]).read_text(encoding="utf-8")
        return parse_scenario(text, f"built-in {builtin}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read scenario {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_scenario(text, str(path))
