"""The GitHub stand-in's pull requests, conversation comments, permissions and webhook delivery."""

from __future__ import annotations

from pathlib import Path

from tests.standins.github import signature_256
from tests.standins.unit.github_standin_schemas import (
    EVENT_SCHEMAS,
    ISSUE_COMMENT,
    PERMISSION,
    PULL_REQUEST,
)
from tests.standins.unit.github_standin_world import (
    APP_PY,
    REPO,
    SECRET,
    assert_shape,
    github_world,
)

API = f"/api/v3/repos/{REPO}"


async def test_pull_requests_comments_and_merge_in_githubs_shapes(tmp_path: Path) -> None:
    async with github_world(tmp_path) as world:
        opened = await world.open_pull("dursor/one", {"app.py": APP_PY + "one more\n"})
        duplicate = await world.api.post(
            f"{API}/pulls", json={"title": "again", "head": "dursor/one", "base": "main"}
        )
        posted = await world.api.post(f"{API}/issues/1/comments", json={"body": "Stopped after 3"})
        await world.github.comment(REPO, 1, "octo", "@dursor please also update the docs")
        listed = (await world.api.get(f"{API}/issues/1/comments")).json()
        merged = await world.github.close_pull(REPO, 1, merged=True, by="mona")
        after = (await world.api.get(f"{API}/pulls/1")).json()
        closed_list = (await world.api.get(f"{API}/pulls", params={"state": "closed"})).json()

    assert_shape(PULL_REQUEST, opened)
    assert (opened["commits"], opened["additions"], opened["changed_files"]) == (1, 1, 1)
    assert opened["user"]["login"] == "dursor[bot]"
    assert duplicate.status_code == 422
    assert posted.status_code == 201
    for comment in listed:
        assert_shape(ISSUE_COMMENT, comment)
    assert [(c["user"]["login"], c["author_association"]) for c in listed] == [
        ("dursor[bot]", "NONE"),
        ("octo", "COLLABORATOR"),
    ]
    assert [c.body for c in world.github.issue_comments(REPO, 1)] == [
        "Stopped after 3",
        "@dursor please also update the docs",
    ]
    assert merged.merged
    assert (after["state"], after["merged"], after["merged_by"]["login"]) == (
        "closed",
        True,
        "mona",
    )
    assert [p["number"] for p in closed_list] == [1]
    comments = world.events("issue_comment", "created")
    assert [c.payload["sender"]["login"] for c in comments] == ["dursor[bot]", "octo"]
    assert all("pull_request" in c.payload["issue"] for c in comments)
    (closed,) = world.events("pull_request", "closed")
    assert closed.payload["pull_request"]["merged"] is True
    for delivery in world.received:
        assert_shape(EVENT_SCHEMAS[delivery.event], delivery.payload)


async def test_permissions_follow_each_users_role(tmp_path: Path) -> None:
    async with github_world(tmp_path) as world:
        answers = {
            login: (await world.api.get(f"{API}/collaborators/{login}/permission")).json()
            for login in ("octo", "rita", "mona", "stranger")
        }

    for answer in answers.values():
        assert_shape(PERMISSION, answer)
    assert {login: a["permission"] for login, a in answers.items()} == {
        "octo": "write",
        "rita": "read",
        "mona": "admin",
        "stranger": "none",
    }
    assert answers["octo"]["user"]["permissions"]["push"] is True
    assert answers["rita"]["user"]["permissions"]["push"] is False
    assert world.github.access.can_write(REPO, "octo")
    assert not world.github.access.can_write(REPO, "rita")


async def test_deliveries_are_signed_redeliverable_and_only_for_subscribed_events(
    tmp_path: Path,
) -> None:
    async with github_world(tmp_path) as world:
        await world.open_pull("dursor/two", {"app.py": APP_PY + "two\n"})
        await world.github.hooks.settled()
        (opened,) = world.github.hooks.of("pull_request", "opened")
        again = await world.github.hooks.redeliver(opened.guid)
        assert world.github.hooks.url is not None
        world.github.hooks.configure(world.github.hooks.url, SECRET, events={"issue_comment"})
        await world.github.close_pull(REPO, 1)
        await world.github.comment(REPO, 1, "octo", "closing remark")

    assert [r.delivery for r in world.received[:2]] == [opened.guid, opened.guid]
    assert world.received[0].body == world.received[1].body
    assert again.status == 202
    assert opened.headers["x-hub-signature-256"] == signature_256(SECRET, opened.body)
    assert opened.headers["x-github-hook-installation-target-type"] == "integration"
    assert [r.event for r in world.received[2:]] == ["issue_comment"]  # no pull_request closed
