"""Nothing the platform starts listens on anything but 127.0.0.1."""

from __future__ import annotations

import psutil
import pytest

from tests.support.backing import Backing
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _listening(processes: list[psutil.Process]) -> list[tuple[str, str, int]]:
    found = []
    for process in processes:
        try:
            for conn in process.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    found.append((process.name(), conn.laddr.ip, conn.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _owners_of_port(port: int) -> list[psutil.Process]:
    return [
        psutil.Process(c.pid)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    ]


async def test_every_listener_of_the_platform_is_on_loopback(
    platform: Platform, backing: Backing
) -> None:
    processes = [p for replica in platform.replicas for pid in replica.pids for p in _tree(pid)]
    redis_port = int(backing.redis_host.rpartition(":")[2])
    processes += _owners_of_port(redis_port)
    listeners = _listening(processes)

    # Every app, every sidecar (HTTP, gRPC, internal gRPC) and Redis was seen listening.
    assert len(listeners) >= 4 * 4 + 1
    assert {(name, ip, port) for name, ip, port in listeners if ip != "127.0.0.1"} == set()
