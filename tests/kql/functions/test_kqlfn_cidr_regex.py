"""``cidr_regex`` must match exactly the addresses of its range (checked against ``ipaddress``)."""

from __future__ import annotations

import ipaddress
import random
import re

import pytest

from entrawatch.kql.functions.ip_functions import cidr_regex

RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "203.0.113.0/24",
          "198.51.100.7/31", "8.8.8.8", "0.0.0.0/0", "128.0.0.0/1", "20.33.0.0/17"]


@pytest.mark.parametrize("cidr", RANGES)
def test_regex_matches_exactly_the_range(cidr: str) -> None:
    network = ipaddress.IPv4Network(cidr, strict=False)
    pattern = re.compile(cidr_regex(cidr) or "")
    rng = random.Random(cidr)
    inside = [str(network.network_address + rng.randrange(network.num_addresses)) for _ in range(200)]
    edges = [str(network.network_address), str(network.broadcast_address)]
    outside = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(2000)]
    for address in inside + edges:
        assert pattern.search(address), (cidr, address)
        assert pattern.search(address + "/24"), (cidr, address)
    for address in outside:
        assert bool(pattern.search(address)) == (ipaddress.IPv4Address(address) in network), (cidr, address)
