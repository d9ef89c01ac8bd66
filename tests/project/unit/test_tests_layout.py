"""Tests mirror the rooms (docs/architecture.md): each test module sits where its code sits.

`tests/<room>/<domain>/{unit,integration}/` or `tests/<room>/{unit,integration}/`, where
the room is a folder of `services/` and the domain a module or package of that room's
code; the folders that stay as they are (e2e, chaos, infra, cli, standins, support) and
`tests/project/` hold the rest. Every folder on the way is a package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TESTS = ROOT / "tests"
KINDS = ("unit", "integration")
KEPT = ("e2e", "chaos", "infra", "cli", "support")  # whole platforms, infra/, the CLI


def code_rooms(root: Path) -> dict[str, set[str]]:
    """Each room under `services/` and the names of its package's modules and packages."""
    rooms = {}
    for package in root.glob("services/*/*/__init__.py"):
        children = {p.stem for p in package.parent.iterdir() if p.suffix == ".py" or p.is_dir()}
        rooms[package.parent.parent.name] = children - {"__init__", "__pycache__"}
    return rooms


def misplaced(tests: Path, rooms: dict[str, set[str]]) -> list[str]:
    """Test modules outside the layout, and layout folders that are not packages."""
    wrong = []
    for module in sorted(tests.rglob("test_*.py")):
        parts = module.relative_to(tests).parts
        folders = parts[:-1]
        if not folders:
            wrong.append(f"{module.name}: directly under tests/")
            continue
        if folders[0] in KEPT:
            continue
        if not _placed(folders, rooms):
            wrong.append("/".join(parts))
            continue
        for depth in range(1, len(folders) + 1):
            if not (tests.joinpath(*folders[:depth]) / "__init__.py").is_file():
                wrong.append(f"{'/'.join(folders[:depth])}: no __init__.py")
    return sorted(set(wrong))


def _placed(folders: tuple[str, ...], rooms: dict[str, set[str]]) -> bool:
    """Whether a test module's folders follow the layout."""
    *place, kind = folders
    if kind not in KINDS:
        return False
    if place in (["project"], ["standins"]):
        return True
    if len(place) == 1:
        return place[0] in rooms
    return len(place) == 2 and place[0] in rooms and place[1] in rooms[place[0]]


def test_every_test_module_sits_in_the_layout() -> None:
    assert misplaced(TESTS, code_rooms(ROOT)) == []


def test_the_rooms_are_found() -> None:
    rooms = code_rooms(ROOT)
    assert {"run_api", "agent_runner", "events_gateway", "auth", "kit", "store"} <= set(rooms)
    assert {"runs", "agents", "git", "pull_requests"} <= rooms["agent_runner"]


def write_module(tests: Path, path: str) -> None:
    """An empty test module with a package `__init__.py` in each of its folders."""
    module = tests / path
    module.parent.mkdir(parents=True, exist_ok=True)
    for folder in [module.parent, *module.parent.parents]:
        if folder == tests:
            break
        (folder / "__init__.py").write_text("")
    module.write_text("")


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("unit/test_old.py", "the old flat folder"),
        ("run_api/runs/test_limits.py", "no unit/ or integration/"),
        ("run_api/jobs/unit/test_jobs.py", "no such domain"),
        ("billing/unit/test_bills.py", "no such room"),
        ("test_loose.py", "directly under tests/"),
    ],
)
def test_a_misplaced_module_is_caught(tmp_path: Path, path: str, why: str) -> None:
    write_module(tmp_path, path)
    assert misplaced(tmp_path, {"run_api": {"runs", "repos"}}), why


def test_a_folder_without_init_is_caught(tmp_path: Path) -> None:
    module = tmp_path / "run_api/runs/unit/test_limits.py"
    module.parent.mkdir(parents=True)
    (tmp_path / "run_api/__init__.py").write_text("")
    (tmp_path / "run_api/runs/__init__.py").write_text("")
    module.write_text("")
    assert misplaced(tmp_path, {"run_api": {"runs"}}) == ["run_api/runs/unit: no __init__.py"]


def test_a_placed_module_passes(tmp_path: Path) -> None:
    for path in ("run_api/runs/unit/test_a.py", "run_api/integration/test_b.py", "e2e/test_c.py"):
        write_module(tmp_path, path)
    assert misplaced(tmp_path, {"run_api": {"runs"}}) == []
