"""The edge's settings: ticket lifetime, trusted proxies, Front Door id."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from events_gateway.settings import GatewaySettings


def test_a_stream_ticket_lives_at_most_a_minute() -> None:
    assert 0 < GatewaySettings().stream_ticket_ttl_seconds <= 60
    with pytest.raises(ValidationError):
        GatewaySettings(stream_ticket_ttl_seconds=61)


def test_no_proxy_and_no_front_door_are_trusted_by_default() -> None:
    settings = GatewaySettings()
    assert settings.trusted_proxies == []
    assert settings.front_door_id is None


def test_trusted_proxies_are_addresses_or_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURSOR_TRUSTED_PROXIES", '["10.0.0.0/16", "100.100.1.7", "fd00::/8"]')
    assert GatewaySettings().trusted_proxies == [
        ipaddress.ip_network("10.0.0.0/16"),
        ipaddress.ip_network("100.100.1.7/32"),
        ipaddress.ip_network("fd00::/8"),
    ]


@pytest.mark.parametrize("value", ['["*"]', '["not-an-address"]', '["10.0.0.0/33"]'])
def test_trusting_everyone_or_garbage_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DURSOR_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError):
        GatewaySettings()
