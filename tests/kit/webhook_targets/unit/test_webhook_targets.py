"""Where webhooks may go: public https targets; private, loopback, link-local only if allowed."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dursor_kit.webhook_targets import (
    RefusedTarget,
    Resolver,
    TargetPolicy,
    checked_addresses,
    parse_target,
)

CLOUD = TargetPolicy.of("cloud", [])
LOCAL = TargetPolicy.of("local", [])
FORBIDDEN_V4 = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
FORBIDDEN_V6 = ["::1/128", "fe80::/10", "fc00::/7", "ff00::/8", "::/128"]
PUBLIC_V4 = ["8.8.8.0/24", "93.184.216.0/24", "140.82.112.0/20", "1.1.1.0/24"]


def addresses_in(
    cidrs: list[str],
) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Any address of any of these networks."""
    return st.sampled_from(cidrs).flatmap(
        lambda cidr: st.ip_addresses(network=ipaddress.ip_network(cidr))
    )


@given(addresses_in(FORBIDDEN_V4 + FORBIDDEN_V6))
def test_cloud_mode_refuses_every_non_public_address(address: ipaddress.IPv4Address) -> None:
    assert not CLOUD.allows_address(address)


@given(addresses_in(FORBIDDEN_V4))
def test_an_ipv4_address_hidden_in_ipv6_counts_as_itself(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))
    assert not CLOUD.allows_address(mapped)
    assert not CLOUD.allows_address(sixtofour)


@given(addresses_in(PUBLIC_V4))
def test_public_addresses_are_allowed_in_both_modes(address: ipaddress.IPv4Address) -> None:
    assert CLOUD.allows_address(address)
    assert LOCAL.allows_address(address)


@given(addresses_in(["10.0.0.0/8", "169.254.0.0/16"]))
def test_only_the_allowlisted_network_opens(address: ipaddress.IPv4Address) -> None:
    allow_ten = TargetPolicy.of("cloud", ["10.0.0.0/8"])
    assert allow_ten.allows_address(address) is (address in ipaddress.ip_network("10.0.0.0/8"))


@given(addresses_in(["127.0.0.0/8", "::1/128"]), addresses_in(["10.0.0.0/8", "169.254.0.0/16"]))
def test_local_mode_adds_loopback_and_nothing_else(
    loopback: ipaddress.IPv4Address, private: ipaddress.IPv4Address
) -> None:
    assert LOCAL.allows_address(loopback)
    assert not LOCAL.allows_address(private)


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("http://hooks.example.com/x", CLOUD),
        ("http://127.0.0.1:9000/x", CLOUD),
        ("http://10.0.0.5/x", LOCAL),
        ("ftp://hooks.example.com/x", CLOUD),
        ("https://user:pw@hooks.example.com/x", CLOUD),
        ("https:///x", CLOUD),
        ("https://hooks.example.com:99999/x", CLOUD),
    ],
)
def test_urls_webhooks_may_not_use(url: str, policy: TargetPolicy) -> None:
    with pytest.raises(RefusedTarget):
        parse_target(url, policy)


def test_http_is_fine_on_loopback_in_local_mode() -> None:
    target = parse_target("http://127.0.0.1:9000/hook?x=1", LOCAL)
    assert (target.scheme, target.host, target.port, target.path) == (
        "http",
        "127.0.0.1",
        9000,
        "/hook?x=1",
    )
    assert target.url_at("127.0.0.1") == "http://127.0.0.1:9000/hook?x=1"
    assert parse_target("https://[2001:db8::1]/h", CLOUD).url_at("2001:db8::1") == (
        "https://[2001:db8::1]:443/h"
    )


def answers(*found: str) -> Resolver:
    """A resolver with a fixed answer (the DNS of a test)."""

    async def resolve(host: str, port: int) -> list[str]:
        return list(found)

    return resolve


async def test_a_host_is_refused_when_any_of_its_addresses_is() -> None:
    target = parse_target("https://hooks.example.com/x", CLOUD)
    assert await checked_addresses(target, CLOUD, answers("93.184.216.34")) == ["93.184.216.34"]
    for bad in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::ffff:10.0.0.1", "fe80::1%eth0"):
        with pytest.raises(RefusedTarget, match="may not reach"):
            await checked_addresses(target, CLOUD, answers("93.184.216.34", bad))
    with pytest.raises(RefusedTarget, match="does not resolve"):
        await checked_addresses(target, CLOUD, answers())
