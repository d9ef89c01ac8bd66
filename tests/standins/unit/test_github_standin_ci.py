"""The GitHub stand-in's CI: Actions check suites, jobs and logs, other CIs' statuses, webhooks."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.standins.github import ExternalStatus, PushedHead, failing, passing
from tests.standins.github.ci import CiScript
from tests.standins.unit.github_standin_schemas import (
    CHECK_RUN,
    CHECK_SUITE,
    COMBINED_STATUS,
    EVENT_SCHEMAS,
    JOB,
    STATUS,
    array,
    obj,
)
from tests.standins.unit.github_standin_world import (
    APP_PY,
    REPO,
    SECRET,
    assert_shape,
    github_world,
)

API = f"/api/v3/repos/{REPO}"
PYTEST_OUTPUT = "E   AssertionError: assert 2 == 3\nFAILED tests/test_app.py::test_sum"


async def test_a_failed_job_names_its_step_serves_its_log_and_sends_signed_webhooks(
    tmp_path: Path,
) -> None:
    async with github_world(tmp_path) as world:
        world.github.ci.react(REPO, lambda head: failing("Run pytest", PYTEST_OUTPUT))
        pull = await world.open_pull("dursor/sum", {"app.py": APP_PY + "line 31\n"})
        await world.github.ci.idle()
        sha = pull["head"]["sha"]

        listed = await world.api.get(f"{API}/commits/{sha}/check-runs")
        assert_shape(obj("total_count check_runs", check_runs=array(CHECK_RUN)), listed.json())
        (run,) = listed.json()["check_runs"]
        again = await world.api.get(
            f"{API}/commits/{sha}/check-runs", headers={"if-none-match": listed.headers["etag"]}
        )
        job = (await world.api.get(f"{API}/actions/jobs/{run['id']}")).json()
        suites = (await world.api.get(f"{API}/commits/{sha}/check-suites")).json()
        notes = (await world.api.get(f"{API}/check-runs/{run['id']}/annotations")).json()

        assert (run["name"], run["status"], run["conclusion"]) == ("test", "completed", "failure")
        assert run["app"]["slug"] == "github-actions"
        assert run["details_url"].endswith(f"/job/{run['id']}")
        assert [p["number"] for p in run["pull_requests"]] == [pull["number"]]
        assert again.status_code == 304
        assert_shape(JOB, job)
        assert [(s["name"], s["conclusion"]) for s in job["steps"]] == [
            ("Install dependencies", "success"),
            ("Run pytest", "failure"),
        ]
        assert_shape(obj("total_count check_suites", check_suites=array(CHECK_SUITE)), suites)
        assert [(s["conclusion"], s["head_commit"]["id"]) for s in suites["check_suites"]] == [
            ("failure", sha)
        ]
        assert [n["message"] for n in notes] == ["Process completed with exit code 1."]
        await logs_redirect_to_a_tokenless_download(world.api, run["id"])
        received = [(r.event, r.payload.get("action")) for r in world.received]
        assert received == [
            ("pull_request", "opened"),
            ("check_run", "created"),
            ("check_run", "completed"),
            ("check_suite", "completed"),
        ]
        for delivery in world.received:
            assert delivery.signed_with(SECRET)
            assert not delivery.signed_with("another secret")
            assert_shape(EVENT_SCHEMAS[delivery.event], delivery.payload)
        assert {d.status for d in world.github.hooks.deliveries} == {202}


async def logs_redirect_to_a_tokenless_download(api: httpx.AsyncClient, job_id: int) -> None:
    """302 to a download that needs no token; a tampered link is refused."""
    redirect = await api.get(f"{API}/actions/jobs/{job_id}/logs")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    async with httpx.AsyncClient() as anonymous:
        log = await anonymous.get(location)
        tampered = await anonymous.get(location[:-4] + "0000")
    assert log.status_code == 200
    assert PYTEST_OUTPUT.splitlines()[0] in log.text
    assert "##[error]Process completed with exit code 1." in log.text
    assert all(line[:4].isdigit() and line[19:20] == "." for line in log.text.splitlines())
    assert tampered.status_code == 403


async def test_a_new_head_reruns_ci_and_a_rerun_keeps_the_suite_with_a_new_attempt(
    tmp_path: Path,
) -> None:
    def fixed_or_not(head: PushedHead) -> CiScript:
        fixed = "fixed" in (head.read("app.py") or "")
        return passing() if fixed else failing("Run pytest", PYTEST_OUTPUT)

    async with github_world(tmp_path) as world:
        ci = world.github.ci
        ci.react(REPO, fixed_or_not, number=1)
        pull = await world.open_pull("dursor/sum", {"app.py": APP_PY + "broken\n"})
        await ci.idle()
        first_sha = pull["head"]["sha"]
        new_sha = await world.push("dursor/sum", {"app.py": APP_PY + "fixed\n"}, "fix the sum")
        await ci.idle()
        (red,) = world.github.store.suites_of(REPO, first_sha)
        (green,) = world.github.store.suites_of(REPO, new_sha)
        old_run_ids = {r.id for r in world.github.store.runs_of(red.id)}
        rerun = await ci.rerun(red.id, passing())
        latest = (await world.api.get(f"{API}/commits/{first_sha}/check-runs")).json()
        every = (await world.api.get(f"{API}/commits/{first_sha}/check-runs?filter=all")).json()
        jobs = (await world.api.get(f"{API}/actions/runs/{red.run_id}/jobs")).json()

    (synchronize,) = world.events("pull_request", "synchronize")
    assert (synchronize.payload["before"], synchronize.payload["after"]) == (first_sha, new_sha)
    assert green.conclusion == "success"
    assert rerun.suite is red
    assert (red.run_attempt, red.conclusion) == (2, "success")
    assert [r["id"] for r in latest["check_runs"]] == [rerun.runs[0].id]
    assert rerun.runs[0].id not in old_run_ids
    assert every["total_count"] == 2
    assert [(j["run_attempt"], j["conclusion"]) for j in jobs["jobs"]] == [(2, "success")]
    suite_events = [
        (d.payload["check_suite"]["id"], d.payload["check_suite"]["conclusion"])
        for d in world.events("check_suite", "completed")
    ]
    assert suite_events == [(red.id, "failure"), (green.id, "success"), (red.id, "success")]


async def test_other_ci_statuses_combine_and_link_a_details_page(tmp_path: Path) -> None:
    lint = ExternalStatus("ci/lint", "failure", "2 problems", log="app.py:3: E501 line too long")
    async with github_world(tmp_path) as world:
        pull = await world.open_pull("dursor/lint", {"app.py": APP_PY + "x = 1\n"})
        sha = pull["head"]["sha"]
        ran = await world.github.ci.run(
            REPO, sha, CiScript(statuses=(lint, ExternalStatus("ci/docs", "success")))
        )
        combined = (await world.api.get(f"{API}/commits/{sha}/status")).json()
        listed = (await world.api.get(f"{API}/commits/dursor/lint/statuses")).json()
        created = await world.api.post(
            f"{API}/statuses/{sha}", json={"state": "pending", "context": "dursor"}
        )
        refused = await world.api.post(f"{API}/statuses/{sha}", json={"state": "green"})
        await world.github.hooks.settled()
        details = await world.api.get(ran.statuses[0].target_url or "")

    assert_shape(COMBINED_STATUS, combined)
    assert combined["state"] == "failure"
    assert sorted((s["context"], s["state"]) for s in combined["statuses"]) == [
        ("ci/docs", "success"),
        ("ci/lint", "failure"),
    ]
    for status in listed:
        assert_shape(STATUS, status)
    assert [s["state"] for s in listed] == ["success", "failure", "pending", "pending"]
    assert (created.status_code, created.json()["creator"]["login"]) == (201, "dursor[bot]")
    assert refused.status_code == 422
    assert "E501 line too long" in details.text
    states = [(d.payload["context"], d.payload["state"]) for d in world.events("status")]
    assert states == [
        ("ci/lint", "pending"),
        ("ci/docs", "pending"),
        ("ci/lint", "failure"),
        ("ci/docs", "success"),
        ("dursor", "pending"),
    ]
    for delivery in world.events("status"):
        assert_shape(EVENT_SCHEMAS["status"], delivery.payload)
        assert delivery.signed_with(SECRET)


async def test_job_logs_wait_for_the_job_to_complete(tmp_path: Path) -> None:
    async with github_world(tmp_path) as world:
        pull = await world.open_pull("dursor/slow", {"app.py": APP_PY + "slow\n"})
        started = world.github.ci.start(REPO, pull["head"]["sha"], passing())
        job_id = started.runs[0].id
        early = await world.api.get(f"{API}/actions/jobs/{job_id}/logs")
        in_progress = (await world.api.get(f"{API}/actions/jobs/{job_id}")).json()
        await world.github.ci.finish(started)
        late = await world.api.get(f"{API}/actions/jobs/{job_id}/logs")
        foreign = await world.api.get(
            f"{API}/actions/jobs/{job_id}/logs", headers={"authorization": "Bearer nope"}
        )

    assert early.status_code == 404
    assert (in_progress["status"], in_progress["conclusion"]) == ("in_progress", None)
    assert late.status_code == 302
    assert foreign.status_code == 401
