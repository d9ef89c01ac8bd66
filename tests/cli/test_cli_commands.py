"""Every `dursor` command against the real platform: output, `--json` shapes, exit codes."""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dursor_kit.secret_names import ADMIN_PASSWORD, GITHUB_WEBHOOK_SECRET
from tests.cli.cli_runner import Dursor, Result, assert_shape
from tests.cli.conftest import GITHUB_REPO, World
from tests.e2e.test_pull_request_flow import signed
from tests.standins.entra_device_code import USER_CODE, EntraDeviceCode
from tests.support.asgi_server import serve
from tests.support.backing import free_port
from tests.support.git_remote import git, make_remote

pytestmark = pytest.mark.e2e


async def cli(dursor: Dursor, *args: str, **kwargs: Any) -> Result:
    """Run the CLI off the event loop (the GitHub stand-in answers on it)."""
    return await asyncio.to_thread(dursor, *args, **kwargs)


def one_line_error(result: Result) -> str:
    """The CLI's stderr, which must be a single line and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def new_task(world: World, home: Path, title: str = "cli") -> str:
    """A task on the local repository, opened through the CLI."""
    made = await cli(
        world.dursor(home), "task", "new", "--repo", world.local_url, "--title", title, "--json"
    )
    assert made.code == 0, made.stderr
    task_id: str = made.json["id"]
    return task_id


async def run_and_wait(
    dursor: Dursor, target: list[str], templates: list[str], instruction: str
) -> Result:
    """`dursor run TARGET -e command,template=T ... --wait --json INSTRUCTION`."""
    executors = [arg for name in templates for arg in ("-e", f"command,template={name}")]
    return await cli(dursor, "run", *target, *executors, "--wait", "--json", instruction)


async def test_login_with_a_password_keeps_a_0600_file_and_logout_forgets_it(
    world: World, tmp_path: Path
) -> None:
    dursor = world.dursor(tmp_path, role=None)
    password = world.platform.secrets[ADMIN_PASSWORD]
    login = await cli(
        dursor, "login", "--username", "admin", "--password-stdin", "--json", stdin=password
    )
    assert login.code == 0, login.stderr
    assert_shape(login.json, "login")
    credentials = tmp_path / "config" / "dursor" / "credentials.json"
    assert login.json["stored_in"] == str(credentials)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    assert password not in credentials.read_text()
    me = await cli(dursor, "whoami", "--json")
    assert me.code == 0, me.stderr
    assert_shape(me.json, "whoami")
    assert (me.json["username"], me.json["role"]) == ("admin", "admin")
    assert (await cli(dursor, "whoami")).stdout.startswith("admin (admin) at http://127.0.0.1:")
    out = await cli(dursor, "logout", "--json")
    assert_shape(out.json, "logout")
    assert out.json["removed"] is True
    after = await cli(dursor, "whoami")
    assert after.code == 4
    assert "not logged in" in one_line_error(after)


async def test_a_wrong_password_exits_4_with_the_problem_in_one_line(
    world: World, tmp_path: Path
) -> None:
    result = await cli(
        world.dursor(tmp_path, role=None), "login", "-u", "admin", "--password-stdin", stdin="nope"
    )
    assert result.code == 4
    assert one_line_error(result) == "dursor: Unauthorized (401): unknown user or wrong password"
    assert not (tmp_path / "config" / "dursor" / "credentials.json").exists()
    unprompted = await cli(world.dursor(tmp_path, role=None), "login")
    assert unprompted.code == 3  # no terminal: no prompt, a usage error instead
    assert "--username is required without a terminal" in one_line_error(unprompted)


async def test_an_api_token_goes_to_the_os_keyring_when_one_is_configured(
    world: World, tmp_path: Path
) -> None:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    async with httpx.AsyncClient(base_url=world.platform.gateway.url) as client:
        made = await client.post(
            "/v1/tokens", json={"name": "ci"}, headers=world.platform.bearer("developer")
        )
    token = made.json()["token"]
    dursor = world.dursor(tmp_path, role=None)
    keyring_env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    login = await cli(dursor, "login", "--token", token, "--json", env=keyring_env)
    assert login.code == 0, login.stderr
    assert login.json["kind"] == "api-token"
    assert login.json["stored_in"] == "keyring (keyrings.alt.file.PlaintextKeyring)"
    assert not (tmp_path / "config" / "dursor" / "credentials.json").exists()
    # Read it back through keyring's own API, from the file that backend keeps.
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "data" / "python_keyring" / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    stored = keyring.get_password("dursor", world.platform.gateway.url)
    assert stored is not None
    assert token in stored
    me = await cli(dursor, "whoami", "--json", env=keyring_env)
    assert me.json["role"] == "developer"
    assert (await cli(dursor, "logout", "--json", env=keyring_env)).json["removed"] is True
    assert keyring.get_password("dursor", world.platform.gateway.url) is None


async def test_commands_without_a_login_exit_4(world: World, tmp_path: Path) -> None:
    for args in (["whoami"], ["repo", "list"], ["tail", "9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f"]):
        result = await cli(world.dursor(tmp_path, role=None), *args)
        assert result.code == 4, args
        assert "run `dursor login`" in one_line_error(result)


async def test_repositories_and_tasks(world: World, tmp_path: Path) -> None:
    dursor = world.dursor(tmp_path)
    remote = tmp_path / "own.git"
    git("clone", "-q", "--bare", world.local_url.removeprefix("file://"), str(remote), cwd=tmp_path)
    added = await cli(dursor, "repo", "add", f"file://{remote}", "--json")
    assert added.code == 0, added.stderr
    assert_shape(added.json, "repo")
    again = await cli(dursor, "repo", "add", f"file://{remote}")
    assert again.code == 3
    assert "Conflict (409)" in one_line_error(again)
    listed = await cli(dursor, "repo", "list", "--json")
    assert_shape(listed.json, "repo_list")
    assert added.json["id"] in [r["id"] for r in listed.json]
    assert added.json["id"] in (await cli(dursor, "repo", "list")).stdout

    task = await cli(
        dursor, "task", "new", "--repo", f"file://{remote}", "--title", "Tidy up", "--json"
    )
    assert_shape(task.json, "task")
    assert task.json["repo_id"] == added.json["id"]
    tasks = await cli(dursor, "task", "list", "--repo", added.json["id"], "--json")
    assert_shape(tasks.json, "task_list")
    assert [t["id"] for t in tasks.json] == [task.json["id"]]
    shown = await cli(dursor, "task", "show", task.json["id"], "--json")
    assert_shape(shown.json, "task_show")
    assert (shown.json["task"], shown.json["runs"]) == (task.json, [])
    assert "Tidy up" in (await cli(dursor, "task", "show", task.json["id"])).stdout


async def test_run_wait_exits_0_when_every_run_succeeded(world: World, tmp_path: Path) -> None:
    task_id = await new_task(world, tmp_path)
    result = await run_and_wait(
        world.dursor(tmp_path), [task_id], ["append-note", "append-note"], "hello from the cli"
    )
    assert result.code == 0, result.stderr
    assert_shape(result.json, "runs_result")
    assert result.json["outcome"] == "succeeded"
    assert [r["status"] for r in result.json["runs"]] == ["succeeded", "succeeded"]


async def test_run_wait_exits_1_when_a_run_failed(world: World, tmp_path: Path) -> None:
    task_id = await new_task(world, tmp_path)
    result = await run_and_wait(
        world.dursor(tmp_path), [task_id], ["append-note", "fail"], "this agent gives up"
    )
    assert result.code == 1, result.stderr
    assert result.json["outcome"] == "failed"
    assert sorted(r["status"] for r in result.json["runs"]) == ["failed", "succeeded"]


async def test_run_wait_exits_2_when_a_run_is_cancelled(world: World, tmp_path: Path) -> None:
    task_id = await new_task(world, tmp_path)
    dursor = world.dursor(tmp_path)
    waiting = dursor.start(
        "run", task_id, "-e", "command,template=sleep", "--wait", "--json", "120"
    )
    run_id = await running_run(world, task_id)
    cancelled = await cli(dursor, "cancel", run_id, "--reason", "changed my mind", "--json")
    assert cancelled.code == 0, cancelled.stderr
    assert_shape(cancelled.json, "run")
    assert cancelled.json["cancel_requested"] is True
    stdout, stderr = await asyncio.to_thread(waiting.communicate, timeout=120)
    assert waiting.returncode == 2, stderr
    assert Result(2, stdout, stderr).json["outcome"] == "cancelled"


async def test_run_wait_exits_2_when_the_timeout_runs_out(world: World, tmp_path: Path) -> None:
    task_id = await new_task(world, tmp_path)
    started = time.monotonic()
    result = await cli(
        world.dursor(tmp_path),
        "run",
        task_id,
        "-e",
        "command,template=sleep",
        "--wait",
        "--timeout",
        "3",
        "--cancel-on-timeout",
        "--json",
        "120",
    )
    assert result.code == 2, result.stderr
    assert result.json["outcome"] == "timed_out"
    assert time.monotonic() - started < 60
    run_id = result.json["runs"][0]["id"]
    async with httpx.AsyncClient(base_url=world.platform.gateway.url) as client:
        run = await client.get(f"/v1/runs/{run_id}", headers=world.platform.bearer("viewer"))
    assert run.json()["cancel_requested"] is True


async def test_run_exits_3_on_usage_errors_and_4_without_the_role(
    world: World, tmp_path: Path
) -> None:
    task_id = await new_task(world, tmp_path)
    dursor = world.dursor(tmp_path)
    unknown = await cli(dursor, "run", task_id, "-e", "nope", "x")
    assert unknown.code == 3
    assert "unknown executor 'nope'" in one_line_error(unknown)
    refused = await cli(dursor, "run", task_id, "-e", "command,template=no spaces", "x")
    assert refused.code == 3
    assert "(422)" in one_line_error(refused)
    missing = await cli(dursor, "run", "--bogus")
    assert missing.code == 3
    assert "No such option" in one_line_error(missing)
    viewer = await cli(world.dursor(tmp_path, "viewer"), "run", task_id, "-e", "codex", "x")
    assert viewer.code == 4
    assert "Forbidden (403)" in one_line_error(viewer)


async def test_run_on_a_repository_with_an_idempotency_key_happens_once(
    world: World, tmp_path: Path
) -> None:
    dursor = world.dursor(tmp_path)
    args = ("run", "--repo", world.local_url, "-e", "command,template=append-note")
    first = await cli(dursor, *args, "--idempotency-key", "ci-build-17", "--json", "ship it")
    second = await cli(dursor, *args, "--idempotency-key", "ci-build-17", "--json", "ship it")
    assert first.code == second.code == 0, first.stderr + second.stderr
    assert_shape(first.json, "runs_result")
    assert first.json["outcome"] is None
    assert second.json["task_id"] == first.json["task_id"]
    assert [r["id"] for r in second.json["runs"]] == [r["id"] for r in first.json["runs"]]


async def test_follow_up_status_diff_compare_and_apply(world: World, tmp_path: Path) -> None:
    task_id = await new_task(world, tmp_path)
    dursor = world.dursor(tmp_path)
    done = await run_and_wait(dursor, [task_id], ["append-note", "append-note"], "first line")
    first, other = (r["id"] for r in done.json["runs"])
    more = await cli(dursor, "follow-up", first, "second line", "--wait", "--json")
    assert more.code == 0, more.stderr
    assert (more.json["runs"][0]["turn"], more.json["outcome"]) == (2, "succeeded")

    status = await cli(dursor, "status", task_id, "--json")
    assert_shape(status.json, "run_list")
    assert {r["id"]: r["turn"] for r in status.json} == {first: 2, other: 1}
    table = (await cli(dursor, "status", task_id)).stdout
    assert first in table
    assert "succeeded" in table
    assert "\x1b[" not in table  # no colour into a pipe

    raw = await cli(dursor, "diff", first)
    assert "+first line" in raw.stdout
    assert "+second line" in raw.stdout
    compared = await cli(dursor, "diff", first, "--compare", other, "--json")
    assert_shape(compared.json, "diff")
    assert [r["run_id"] for r in compared.json["runs"]] == [first, other]
    assert [f["path"] for f in compared.json["runs"][1]["files"]] == ["NOTES.md"]

    checkout = tmp_path / "checkout"
    git("clone", "-q", world.local_url.removeprefix("file://"), str(checkout), cwd=tmp_path)
    checked = await cli(dursor, "apply", first, "--check", "--json", cwd=checkout)
    assert checked.json == {"run_id": first, "applied": False, "files": ["NOTES.md"]}
    assert not (checkout / "NOTES.md").exists()
    applied = await cli(dursor, "apply", first, "--json", cwd=checkout)
    assert_shape(applied.json, "apply")
    assert (checkout / "NOTES.md").read_text() == "first line\nsecond line\n"
    twice = await cli(dursor, "apply", first, cwd=checkout)
    assert twice.code == 1
    assert one_line_error(twice).startswith("dursor: the patch does not apply: ")


async def test_pr_prints_the_url_then_the_ci_state(world: World, tmp_path: Path) -> None:
    dursor = world.dursor(tmp_path)
    done = await run_and_wait(dursor, ["--repo", world.github_url], ["append-note"], "for review")
    assert done.code == 0, done.stderr
    run = done.json["runs"][0]
    opened = await cli(dursor, "pr", run["id"], "--json")
    assert opened.code == 0, opened.stderr
    assert_shape(opened.json, "pull_request")
    assert (opened.json["state"], opened.json["ci_status"]) == ("open", "unknown")
    assert opened.json["url"].endswith("/acme/widgets/pull/1")
    suite = {"head_sha": opened.json["head_sha"], "status": "completed", "conclusion": "success"}
    body, hook = signed(
        world.platform.secrets[GITHUB_WEBHOOK_SECRET],
        "check_suite",
        {"action": "completed", "check_suite": suite},
    )
    # The stand-in's API must answer the platform's CI poller what the webhook says, or a
    # poll between the webhook and the CLI's look would rightly record "unknown" again.
    check = {"name": "ci", "status": "completed", "conclusion": "success"}
    standin = world.github_url.removesuffix(f"/{GITHUB_REPO}.git")
    async with httpx.AsyncClient(base_url=standin) as client:
        told = await client.post(
            "/_control/ci", json={"sha": opened.json["head_sha"], "check_runs": [check]}
        )
    assert told.status_code == 200
    async with httpx.AsyncClient(base_url=world.platform.gateway.url) as client:
        delivered = await client.post("/v1/github/webhook", content=body, headers=hook)
    assert delivered.status_code == 202
    human = await cli(dursor, "pr", run["id"], "--wait-ci", "--timeout", "120")
    assert human.code == 0, human.stderr
    assert human.stdout.splitlines() == [f"{opened.json['url']}  (open)", "CI: success"]


async def test_errors_are_one_line_and_never_a_traceback(world: World, tmp_path: Path) -> None:
    dursor = world.dursor(tmp_path)
    missing = await cli(dursor, "diff", "9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f")
    assert missing.code == 3
    assert one_line_error(missing).startswith("dursor: Not Found (404): ")
    malformed = await cli(dursor, "tail", "not-a-uuid")
    assert malformed.code == 3
    one_line_error(malformed)
    down = await cli(dursor, "--gateway", "http://127.0.0.1:9", "repo", "list")
    assert down.code == 1
    assert one_line_error(down).startswith("dursor: cannot reach the gateway at http://127.0.0.1:9")


async def running_run(world: World, task_id: str) -> str:
    """The id of the task's first run, once it is running."""
    async with httpx.AsyncClient(base_url=world.platform.gateway.url) as client:
        for _ in range(300):
            page = await client.get(
                f"/v1/tasks/{task_id}/runs", headers=world.platform.bearer("viewer")
            )
            runs = page.json()["items"]
            if runs and runs[0]["status"] == "running":
                run_id: str = runs[0]["id"]
                return run_id
            await asyncio.sleep(0.2)
    raise AssertionError("the run never started")


async def test_login_by_device_code_shows_the_code_and_keeps_the_token(
    world: World, tmp_path: Path
) -> None:
    """Entra's device-code endpoints are a stand-in; the token it issues is one the
    platform trusts (its audience and issuer checks are the platform's own tests)."""
    entra = EntraDeviceCode("contoso", "cli-app", world.platform.mint_token("developer"))
    port = free_port()
    async with serve(entra.app(), port):
        login = await cli(
            world.dursor(tmp_path, role=None),
            "login",
            "--device-code",
            "--tenant",
            "contoso",
            "--client-id",
            "cli-app",
            "--json",
            env={"DURSOR_ENTRA_AUTHORITY": f"http://127.0.0.1:{port}"},
        )
    assert login.code == 0, login.stderr
    assert f"enter the code {USER_CODE}" in login.stderr
    assert (login.json["kind"], login.json["username"]) == ("entra", "test-developer")
    assert entra.scopes == ["api://cli-app/.default"]
    assert entra.polls == 3
    me = await cli(world.dursor(tmp_path, role=None), "whoami", "--json")
    assert me.json["role"] == "developer"
    missing = await cli(world.dursor(tmp_path, role=None), "login", "--device-code")
    assert missing.code == 3
    assert "--tenant and --client-id" in one_line_error(missing)


# One test of a JUnit report, failing unless the agent wrote NOTES.md (issue 18's verify step).
VERIFY = (
    'echo "checking NOTES.md"; if test -f NOTES.md; then f=0; else f=1; fi; '
    'printf \'<testsuite tests="1" failures="%s"/>\' "$f" > report-junit.xml; exit "$f"'
)


async def ranked_submission(world: World, home: Path) -> tuple[str, str, list[str]]:
    """A repository of its own with a verify command, and one submission of three runs."""
    remote = f"file://{make_remote(home / 'ranked')}"
    new = ("task", "new", "--repo", remote, "--title", "rank", "--json")
    task = await cli(world.dursor(home), *new)
    task_id, repo_id = task.json["id"], task.json["repo_id"]
    async with httpx.AsyncClient(base_url=world.platform.gateway.url) as client:
        put = await client.put(
            f"/v1/repos/{repo_id}/environment",
            json={"verify": [VERIFY]},
            headers=world.platform.bearer("developer"),
        )
    assert put.status_code == 200, put.text
    done = await run_and_wait(world.dursor(home), [task_id], ["append-note", "chatty", "fail"], "3")
    assert (done.code, done.json["outcome"]) == (1, "failed"), done.stderr
    return task_id, repo_id, [r["id"] for r in done.json["runs"]]


async def test_compare_ranks_a_submission_and_usage_and_status_show_what_runs_cost(
    world: World, tmp_path: Path
) -> None:
    task_id, repo_id, (notes, chatty, failed) = await ranked_submission(world, tmp_path)
    dursor = world.dursor(tmp_path)
    ranked = await cli(dursor, "compare", task_id, "--json")
    assert ranked.code == 0, ranked.stderr
    assert_shape(ranked.json, "comparison")
    # Succeeded and verified, then succeeded with a failing test, then the failed run.
    assert [r["run_id"] for r in ranked.json["runs"]] == [notes, chatty, failed]
    figures = [r["figures"] for r in ranked.json["runs"]]
    assert [(f["verify_passed"], f["failing_tests"], f["diff_lines"]) for f in figures] == [
        (True, 0, 1),
        (False, 1, 1),
        (False, 1, 0),
    ]
    # Smaller diff first; the two 1-line diffs are told apart by their verification.
    by_diff = await cli(dursor, "compare", task_id, "--rule", "diff_lines,verify_passed", "--json")
    assert by_diff.json["rule"] == ["diff_lines", "verify_passed"]
    assert [r["run_id"] for r in by_diff.json["runs"]] == [failed, notes, chatty]
    table = (await cli(dursor, "compare", task_id)).stdout
    assert table.index(notes) < table.index(chatty) < table.index(failed)
    assert "1 best" in table
    assert "Rule: run_succeeded > verify_passed" in table
    unknown = await cli(dursor, "compare", task_id, "--rule", "cost_usd,speed")
    assert unknown.code == 3
    assert "unknown criterion 'speed'" in one_line_error(unknown)
    twice = await cli(dursor, "compare", task_id, "--rule", "cost_usd,cost_usd")
    assert twice.code == 3
    assert "rule must name distinct criteria" in one_line_error(twice)

    async with httpx.AsyncClient(base_url=world.platform.gateway.url) as client:
        api_usage = await client.get(
            f"/v1/runs/{chatty}/usage", headers=world.platform.bearer("viewer")
        )
    run_usage = await cli(dursor, "usage", "--run", chatty, "--json")
    assert_shape(run_usage.json, "run_usage")
    assert run_usage.json == api_usage.json()
    assert [(t["turn"], t["cost_source"]) for t in run_usage.json["turns"]] == [(1, "unpriced")]
    task_usage = await cli(dursor, "usage", "--task", task_id, "--json")
    assert_shape(task_usage.json, "scope_usage")
    assert (task_usage.json["scope"], task_usage.json["total"]["turns"]) == ("task", 3)
    repo_usage = await cli(dursor, "usage", "--repo", repo_id, "--json")
    assert repo_usage.json["total"] == task_usage.json["total"]
    future = await cli(dursor, "usage", "--since", "2999-01-01", "--json")
    assert (future.json["scope"], future.json["total"]["turns"]) == ("user", 0)
    mine = await cli(dursor, "usage", "--json")
    assert mine.json["total"]["turns"] >= 3
    assert "Usage of task" in (await cli(dursor, "usage", "--task", task_id)).stdout
    both = await cli(dursor, "usage", "--run", chatty, "--task", task_id)
    assert both.code == 3
    assert "at most one of" in one_line_error(both)

    shown = await cli(dursor, "status", chatty, "--json")
    assert_shape(shown.json, "run_show")
    assert shown.json["usage"] == run_usage.json
    assert [
        (v["turn"], v["passed"], v["exit_code"], v["tests"], v["failures"])
        for v in shown.json["verifications"]
    ] == [(1, False, 1, 1, 1)]
    assert "checking NOTES.md" in shown.json["verifications"][0]["output_tail"]
    first = (await cli(dursor, "status", notes, "--json")).json["run"]
    # One submission, one base commit: shown with the run's detail.
    assert first["base_commit"] == shown.json["run"]["base_commit"] is not None
    detail = (await cli(dursor, "status", notes)).stdout
    assert f"base commit {first['base_commit']}" in detail
    assert "Usage" in detail
    assert "Verification" in detail
    assert "passed" in detail
    assert "+ 1 unpriced turn" in detail
