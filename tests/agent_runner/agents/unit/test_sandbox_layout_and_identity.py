"""Jail uids are never shared by two live jails; a jail's mounts and /etc expose no neighbour."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_runner.agents.sandbox.etc import EtcTemplate
from agent_runner.agents.sandbox.filesystem import JailLayout, LayoutError
from agent_runner.agents.sandbox.identity import IdentityExhausted, IdentityPool


def test_two_live_jails_of_one_run_get_different_uids(tmp_path: Path) -> None:
    pool = IdentityPool(tmp_path, base=2_000_000, count=4)
    first = pool.acquire("run-a")
    second = pool.acquire("run-a")
    assert first.uid != second.uid
    assert all(2_000_000 <= i.uid < 2_000_004 for i in (first, second))
    preferred = first.uid
    first.release()
    second.release()
    assert pool.acquire("run-a").uid == preferred  # a later turn finds its files its own


def test_a_full_pool_refuses_instead_of_sharing(tmp_path: Path) -> None:
    pool = IdentityPool(tmp_path, base=2_000_000, count=2)
    held = [pool.acquire("x"), pool.acquire("y")]
    with pytest.raises(IdentityExhausted):
        pool.acquire("z")
    held[0].release()
    assert pool.acquire("z").uid == held[0].uid


def test_a_read_only_folder_that_holds_the_worktree_is_refused(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    layout = JailLayout(
        workspace=data / "runs" / "r" / "worktree",
        home=data / "runs" / "r" / "home",
        read_only=(data,),
        etc_dir=tmp_path / "etc",
        tmp_bytes=1 << 20,
    )
    with pytest.raises(LayoutError, match="would expose what lies beside"):
        layout.validate()


def test_only_the_runs_own_folders_are_bound(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("agent:x:1000:1000::/h:/bin/sh\n")
    (tmp_path / "etc" / "ssl").mkdir()  # the host's /etc/ssl goes here
    run = tmp_path / ".data" / "runs" / "r"
    tools = tmp_path / "node-tools"
    layout = JailLayout(run / "worktree", run / "home", (tools,), tmp_path / "etc", 1 << 20)
    args = layout.bwrap_args()
    binds = {(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == "--bind"}
    read_only = {(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == "--ro-bind"}
    assert binds == {(str(run / "worktree"),) * 2, (str(run / "home"),) * 2}
    assert {source for source, _ in read_only} == {
        "/usr",
        str(tools),
        str(tmp_path / "etc"),
        "/etc/ssl",
    }
    assert (str(tmp_path / "etc"), "/etc") in read_only
    # The parents are empty folders of the jail's own root, never the host's.
    assert str(tmp_path / ".data") not in {source for source, _ in read_only}
    assert args[-2:] == ["--remount-ro", "/"]


def test_a_jails_etc_holds_its_files_and_copies_of_the_hosts_never_the_hosts_own(
    tmp_path: Path,
) -> None:
    host = tmp_path / "host-etc"
    (host / "ssl").mkdir(parents=True)
    (host / "services").write_text("http 80/tcp\n")
    (host / "localtime").symlink_to("/usr/share/zoneinfo/Etc/UTC")
    (host / "protocols").symlink_to(tmp_path / "elsewhere")  # outside /usr: not followed
    template = EtcTemplate(tmp_path / "state" / "etc", tmp_path / "state" / "jails", host)
    first, second = template.acquire(), template.acquire()
    assert first != second
    template.fill(first, {"passwd": "agent:x:1000:1000::/h:/bin/sh\n"})
    assert sorted(p.name for p in first.iterdir()) == ["localtime", "passwd", "services", "ssl"]
    assert (first / "ssl").is_dir()
    assert not any((first / "ssl").iterdir())
    assert os.readlink(first / "localtime") == "/usr/share/zoneinfo/Etc/UTC"
    assert (first / "services").read_text() == "http 80/tcp\n"
    assert (first / "services").stat().st_ino != (host / "services").stat().st_ino

    (host / "services").write_text("https 443/tcp\n")
    template.fill(second, {})
    assert (second / "services").read_text() == "https 443/tcp\n"
    assert (first / "services").read_text() == "http 80/tcp\n"  # a live jail keeps its copy

    # A finished jail's folder serves the next one, with that jail's files and none stale.
    template.release(first)
    (host / "services").unlink()
    third = template.acquire()
    assert third == first
    template.fill(third, {"passwd": "agent:x:1001:1001::/h2:/bin/sh\n"})
    assert sorted(p.name for p in third.iterdir()) == ["localtime", "passwd", "ssl"]
    assert (third / "passwd").read_text() == "agent:x:1001:1001::/h2:/bin/sh\n"
