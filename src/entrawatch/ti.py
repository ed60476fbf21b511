"""Threat-intelligence import: CSV files and STIX 2.1 bundles into ``ThreatIntelligenceIndicator``.

Sentinel's TI rules (``TI map IP entity to SigninLogs`` and friends) join sign-ins to this table,
so it keeps Sentinel's column names: one row per observable (``NetworkIP``, ``EmailSenderAddress``,
``DomainName``, ``Url``, ``FileHashValue``). Rows are keyed by ``IndicatorId`` so importing the same
file twice adds nothing. STIX patterns are parsed by ``analytics.stix_pattern`` (no regex guessing).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from entrawatch import schema
from entrawatch.analytics.stix_pattern import StixPatternError, parse_pattern
from entrawatch.errors import ReaderError
from entrawatch.schema import Column, Table
from entrawatch.warehouse.base import Warehouse

TI_TABLE = "ThreatIntelligenceIndicator"

_COLUMNS = (
    ("TenantId", "string"), ("TimeGenerated", "datetime"), ("SourceSystem", "string"), ("Action", "string"),
    ("ActivityGroupNames", "string"), ("AdditionalInformation", "string"), ("AzureTenantId", "string"),
    ("ConfidenceScore", "real"), ("Description", "string"), ("DiamondModel", "string"),
    ("ExternalIndicatorId", "string"), ("ExpirationDateTime", "datetime"), ("IndicatorId", "string"),
    ("IndicatorProvider", "string"), ("ThreatType", "string"), ("Active", "bool"),
    ("KillChainActions", "bool"), ("KillChainC2", "bool"), ("KillChainDelivery", "bool"),
    ("KillChainExploitation", "bool"), ("KillChainReconnaissance", "bool"), ("KillChainWeaponization", "bool"),
    ("KnownFalsePositives", "string"), ("MalwareNames", "string"), ("PassiveOnly", "bool"),
    ("ThreatSeverity", "int"), ("TrafficLightProtocolLevel", "string"), ("Tags", "string"),
    ("NetworkIP", "string"), ("NetworkDestinationIP", "string"), ("NetworkSourceIP", "string"),
    ("NetworkCidrBlock", "string"), ("EmailSenderAddress", "string"), ("EmailSenderName", "string"),
    ("EmailSourceDomain", "string"), ("EmailSourceIpAddress", "string"), ("EmailRecipient", "string"),
    ("DomainName", "string"), ("Url", "string"), ("FileHashType", "string"), ("FileHashValue", "string"),
    ("FileName", "string"), ("Pattern", "string"), ("Type", "string"),
)
TI = Table(TI_TABLE, tuple(Column(n, t) for n, t in _COLUMNS), key=("IndicatorId",))
schema.register_table(TI)

#: STIX object path -> TI column (equality comparisons only).
_STIX_COLUMNS = {
    ("ipv4-addr", "value"): "NetworkIP",
    ("ipv6-addr", "value"): "NetworkIP",
    ("email-addr", "value"): "EmailSenderAddress",
    ("domain-name", "value"): "DomainName",
    ("url", "value"): "Url",
    ("network-traffic", "dst_ref.value"): "NetworkDestinationIP",
    ("network-traffic", "src_ref.value"): "NetworkSourceIP",
    ("email-message", "from_ref.value"): "EmailSenderAddress",
    ("file", "name"): "FileName",
}

#: Friendly CSV ``type`` values -> TI column, for feeds with ``type,value`` columns.
_CSV_TYPES = {
    "ip": "NetworkIP", "ipv4": "NetworkIP", "ipv6": "NetworkIP", "ipv4-addr": "NetworkIP", "ipv6-addr": "NetworkIP",
    "networkip": "NetworkIP", "email": "EmailSenderAddress", "email-addr": "EmailSenderAddress",
    "domain": "DomainName", "domain-name": "DomainName", "domainname": "DomainName", "url": "Url",
}

#: Common feed column names -> TI column (the simulator's threat_intel.csv uses these).
_CSV_ALIASES = {
    "confidence": "ConfidenceScore", "threat_type": "ThreatType", "source": "SourceSystem",
    "valid_until": "ExpirationDateTime", "expiration": "ExpirationDateTime", "expires": "ExpirationDateTime",
    "last_seen": "TimeGenerated", "modified": "TimeGenerated", "id": "IndicatorId", "tags": "Tags",
    "labels": "Tags",
}
#: Indicators without an expiry stay valid this long after TimeGenerated, so Sentinel-style
#: ``ExpirationDateTime > now()`` filters see them.
DEFAULT_LIFETIME = timedelta(days=90)

_OBSERVABLE_COLUMNS = ("NetworkIP", "NetworkDestinationIP", "NetworkSourceIP", "EmailSenderAddress",
                       "DomainName", "Url", "FileHashValue", "FileName")


@dataclass
class TiImportReport:
    """What an import did: indicators read, rows inserted, duplicates, and skipped entries."""

    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_bool(value: Any, default: bool = True) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "y")


def _stable_id(*parts: object) -> str:
    digest = hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def stix_rows(bundle: dict[str, Any], *, source: str, report: TiImportReport) -> Iterator[dict[str, Any]]:
    """One TI row per mappable observable of every ``indicator`` object in a STIX 2.1 bundle."""
    objects = bundle.get("objects") if isinstance(bundle, dict) else None
    if bundle.get("type") == "indicator":
        objects = [bundle]
    identities = {o.get("id"): o.get("name") for o in objects or [] if isinstance(o, dict) and o.get("type") == "identity"}
    for obj in objects or []:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        report.read += 1
        if obj.get("pattern_type", "stix") != "stix":
            report.skipped.append(f"{obj.get('id')}: pattern_type {obj.get('pattern_type')!r} is not stix")
            continue
        try:
            comparisons = parse_pattern(str(obj.get("pattern", "")))
        except StixPatternError as err:
            report.skipped.append(f"{obj.get('id')}: {err}")
            continue
        observables: list[tuple[str, str]] = []
        for comp in comparisons:
            if comp.negated or comp.operator not in ("=", "IN"):
                continue
            values = comp.value if isinstance(comp.value, tuple) else (comp.value,)
            if comp.object_type == "file" and comp.path.startswith("hashes."):
                observables += [(f"FileHash:{comp.path[7:]}", str(v)) for v in values]
                continue
            column = _STIX_COLUMNS.get((comp.object_type, comp.path))
            if column:
                observables += [(column, str(v)) for v in values]
        if not observables:
            report.skipped.append(f"{obj.get('id')}: no supported observable in pattern {obj.get('pattern')!r}")
            continue
        modified = _parse_time(obj.get("modified")) or _parse_time(obj.get("created"))
        valid_until = _parse_time(obj.get("valid_until"))
        types = obj.get("indicator_types") or []
        for index, (column, value) in enumerate(observables):
            row: dict[str, Any] = {
                "TimeGenerated": modified,
                "SourceSystem": identities.get(obj.get("created_by_ref")) or source,
                "ConfidenceScore": obj.get("confidence"),
                "Description": obj.get("description") or obj.get("name"),
                "ExternalIndicatorId": obj.get("id"),
                "IndicatorId": obj.get("id") if len(observables) == 1 else f"{obj.get('id')}#{index}",
                "ThreatType": types[0] if types else None,
                "Active": not bool(obj.get("revoked")),
                "ExpirationDateTime": valid_until,
                "Tags": ",".join(str(label) for label in obj.get("labels") or []) or None,
                "Pattern": obj.get("pattern"),
            }
            if column.startswith("FileHash:"):
                row["FileHashType"], row["FileHashValue"] = column[9:], value
            else:
                row[column] = value
            yield row


def csv_rows(text: str, *, source: str, report: TiImportReport) -> Iterator[dict[str, Any]]:
    """TI rows from a CSV with Sentinel's column names, or ``type,value`` columns."""
    known = {c.name.lower(): c.name for c in TI.columns}
    for line_number, record in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        report.read += 1
        row: dict[str, Any] = {}
        for key, value in record.items():
            if key is None or value in (None, ""):
                continue
            name = known.get(key.strip().lower()) or _CSV_ALIASES.get(key.strip().lower())
            if name:
                row[name] = value.strip()
        if not row.get("TimeGenerated") and record.get("first_seen"):
            row["TimeGenerated"] = record["first_seen"].strip()
        kind = (record.get("type") or record.get("Type") or record.get("indicator_type") or "").strip().lower()
        value = (record.get("value") or record.get("Value") or record.get("indicator") or "").strip()
        if kind in _CSV_TYPES and value:
            row[_CSV_TYPES[kind]] = value
        row.pop("Type", None)
        if not any(row.get(c) for c in _OBSERVABLE_COLUMNS):
            report.skipped.append(f"line {line_number}: no observable (NetworkIP, Url, DomainName, ...)")
            continue
        row.setdefault("SourceSystem", source)
        row["Active"] = _parse_bool(row.get("Active"))
        for name in ("TimeGenerated", "ExpirationDateTime"):
            row[name] = _parse_time(row.get(name))
        if row.get("ConfidenceScore") is not None:
            try:
                row["ConfidenceScore"] = float(row["ConfidenceScore"])
            except ValueError:
                row["ConfidenceScore"] = None
        row.setdefault("IndicatorId", _stable_id(*(row.get(c) for c in _OBSERVABLE_COLUMNS), row.get("ThreatType")))
        yield row


def import_indicators(path: str | Path, warehouse: Warehouse, *, now: datetime | None = None) -> TiImportReport:
    """Load a CSV file or STIX 2.1 JSON bundle into ``ThreatIntelligenceIndicator`` (idempotent)."""
    file = Path(path)
    try:
        text = file.read_text("utf-8-sig")
    except OSError as err:
        raise ReaderError(f"cannot read threat-intelligence file: {err}", path=str(file)) from err
    report = TiImportReport()
    stamp = now or datetime.now(UTC)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            bundle = json.loads(text)
        except json.JSONDecodeError as err:
            raise ReaderError(f"not valid JSON: {err}", path=str(file)) from err
        rows = list(stix_rows(bundle, source="STIX", report=report))
    else:
        rows = list(csv_rows(text, source="CSV", report=report))
    for row in rows:
        row["TimeGenerated"] = row.get("TimeGenerated") or stamp
        row["ExpirationDateTime"] = row.get("ExpirationDateTime") or row["TimeGenerated"] + DEFAULT_LIFETIME
        row["Type"] = TI_TABLE
    if rows:
        arrow_schema = TI.arrow_schema()
        batch = pa.RecordBatch.from_pylist([{c: r.get(c) for c in TI.column_names} for r in rows], schema=arrow_schema)
        result = warehouse.append(TI_TABLE, [batch])
        report.inserted, report.duplicates = result.inserted, result.duplicates
    else:
        warehouse.ensure_table(TI_TABLE)
    return report
