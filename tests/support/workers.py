"""This process's share of machine-wide test resources when pytest-xdist runs workers."""

from __future__ import annotations

import os


def worker_slot() -> tuple[int, int]:
    """(index, count) of this pytest-xdist worker; (0, 1) in a run without workers."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not name:
        return 0, 1
    return int(name.removeprefix("gw")), int(os.environ["PYTEST_XDIST_WORKER_COUNT"])


def worker_share(values: range) -> range:
    """This worker's part of `values`, disjoint from every other worker's (all without workers)."""
    index, count = worker_slot()
    size = len(values) // count
    if size == 0:
        raise RuntimeError(f"{count} pytest workers cannot share {len(values)} of {values}")
    return values[index * size : (index + 1) * size]
