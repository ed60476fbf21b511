"""One simulated tenant shared by the simulator tests (generated once per session, diagnostic shape)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from entrawatch.simulator import SimulationConfig, SimulationResult, simulate

CONFIG = SimulationConfig(users=80, days=6, seed=11)

_TABLE_OF_CATEGORY = {
    "SignInLogs": "SigninLogs", "NonInteractiveUserSignInLogs": "AADNonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs": "AADServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs": "AADManagedIdentitySignInLogs", "AuditLogs": "AuditLogs",
}


@dataclass
class Simulated:
    config: SimulationConfig
    result: SimulationResult
    truth: dict
    records: list[tuple[str, dict]]  # (table, diagnostic envelope)

    def by_table(self, table: str) -> Iterator[dict]:
        return (env for t, env in self.records if t == table)


def read_diagnostic(out: Path) -> list[tuple[str, dict]]:
    records = []
    for path in sorted(out.rglob("PT1H.json")):
        for line in path.read_bytes().splitlines():
            env = orjson.loads(line)
            records.append((_TABLE_OF_CATEGORY[env["category"]], env))
    return records


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    out = tmp_path_factory.mktemp("sim")
    result = simulate(CONFIG, out)
    truth = orjson.loads(result.truth_path.read_bytes())
    return Simulated(CONFIG, result, truth, read_diagnostic(out))
