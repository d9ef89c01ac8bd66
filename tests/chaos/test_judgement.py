"""How a chaos run is judged: growth beyond noise in soak samples, a verdict, the table."""

from __future__ import annotations

import math

from bench.chaos import table
from bench.chaos_phases import slopes
from tests.support.chaos.ledger import Verdict
from tests.support.chaos.soak import ANON, Series

MIB = 2**20


def _series(anon: list[float], every_seconds: float = 60.0) -> Series:
    """A process sampled every `every_seconds` with the given anonymous RSS (RSS beside it)."""
    samples = [(i * every_seconds, int(a) + 30 * MIB, 20, int(a), 1) for i, a in enumerate(anon)]
    return Series("process", samples)


def _wobble(i: int) -> float:
    """Deterministic noise of about a mebibyte, the size a busy process's heap swings."""
    return MIB * math.sin(i * 1.7)


def test_a_steady_leak_grows_and_a_noisy_flat_process_does_not() -> None:
    leaking = _series([80 * MIB + i * 64 * 1024 + _wobble(i) for i in range(120)])
    flat = _series([80 * MIB + _wobble(i) for i in range(120)])

    assert leaking.grows(ANON)
    assert not flat.grows(ANON)


def test_growth_beyond_noise_but_under_two_percent_of_the_mean_is_not_growth() -> None:
    # 4 KiB a minute, no noise: beyond 3 sigma, but ~0.4 % of 80 MiB over the window.
    creeping = _series([80 * MIB + i * 4096 for i in range(120)])
    assert not creeping.grows(ANON)


def test_memory_that_fills_up_to_a_bound_stops_growing_in_the_second_half() -> None:
    filling = [80 * MIB + min(i, 60) * 128 * 1024 + _wobble(i) / 8 for i in range(150)]
    row = slopes({"process": _series(filling)})[0]

    assert row["grows"]  # the whole window still sees the climb
    assert row["first_half_kib_per_min"] > 60
    assert not row["grows_in_second_half"]
    assert abs(row["second_half_kib_per_min"]) < 5


def test_a_refused_submission_fails_the_verdict() -> None:
    clean = Verdict("soak", accepted=10, recovered=True)
    refused = Verdict("soak", accepted=10, refused=1, recovered=True)

    assert clean.holds
    assert not refused.holds


def test_the_table_shows_refused_submissions() -> None:
    rows = [Verdict("soak", accepted=10, refused=3, recovered=True).row()]
    header, _, line = table(rows).splitlines()

    titles = [cell.strip() for cell in header.strip("|").split("|")]
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[titles.index("refused")] == "3"
    assert cells[titles.index("holds")] == "False"


def _tree(members: list[int], anon_each: list[float]) -> Series:
    """A process tree sampled every minute: its member count and each member's memory."""
    samples = [
        (i * 60.0, int(n * (a + 30 * MIB)), 40 * n, int(n * a), n)
        for i, (n, a) in enumerate(zip(members, anon_each, strict=True))
    ]
    return Series("postgres", samples)


def test_a_tree_that_only_opens_more_members_grows_in_sum_but_not_per_member() -> None:
    members = [4 + i // 30 for i in range(120)]  # one more backend every 30 minutes
    tree = _tree(members, [5 * MIB + _wobble(i) / 16 for i in range(120)])
    rows = {row["process"]: row for row in slopes({"postgres": tree})}

    assert rows["postgres"]["grows"]
    assert rows["postgres"]["processes"] == "4-7"
    assert not rows["postgres per process"]["grows"]


def test_a_tree_whose_members_each_grow_grows_per_member_too() -> None:
    tree = _tree([4] * 120, [5 * MIB + i * 16 * 1024 for i in range(120)])
    rows = {row["process"]: row for row in slopes({"postgres": tree})}

    assert rows["postgres"]["grows"]
    assert rows["postgres per process"]["grows"]
    assert rows["postgres per process"]["kib_per_min"] == 16.0


def test_a_tree_that_never_had_children_gets_no_per_process_row() -> None:
    alone = _tree([1] * 120, [3 * MIB + _wobble(i) / 16 for i in range(120)])
    rows = [row["process"] for row in slopes({"redis": Series("redis", alone.samples)})]

    assert rows == ["redis"]
