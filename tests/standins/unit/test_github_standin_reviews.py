"""The GitHub stand-in's reviews: threads over GraphQL with paging, replies, resolutions, REST."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.standins.github import InlineComment, NotInDiff, ThreadAction
from tests.standins.unit.github_standin_schemas import EVENT_SCHEMAS, REVIEW, REVIEW_COMMENT
from tests.standins.unit.github_standin_world import (
    APP_PY,
    REPO,
    SECRET,
    World,
    assert_shape,
    github_world,
)

API = f"/api/v3/repos/{REPO}"
CHANGED = APP_PY.replace("line 5\n", "line five\n").replace("line 20\n", "line twenty\n")
THREADS = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 2, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line diffSide
          comments(first: 50) {
            nodes { id databaseId body author { login } diffHunk url createdAt }
          }
        }
      }
    }
  }
}
"""
REPLY = """
mutation($thread: ID!, $body: String!) {
  addPullRequestReviewThreadReply(input: {pullRequestReviewThreadId: $thread, body: $body}) {
    comment { databaseId body author { login __typename } }
  }
}
"""
RESOLVE = """
mutation($thread: ID!) {
  resolveReviewThread(input: {threadId: $thread, clientMutationId: "r1"}) {
    clientMutationId
    thread { id isResolved }
  }
}
"""


async def reviewed_pull(world: World) -> list[str]:
    """A PR with a CHANGES_REQUESTED review of three threads, one replied to and resolved."""
    await world.open_pull("dursor/lines", {"app.py": CHANGED})
    comments = [
        InlineComment("app.py", 5, "Why five in words?"),
        InlineComment("app.py", 20, "Same here"),
        InlineComment("app.py", 4, "Context line, still fine to comment", side="RIGHT"),
    ]
    review = await world.github.submit_review(REPO, 1, "octo", "CHANGES_REQUESTED", "Fix", comments)
    threads = world.github.threads(REPO, 1)
    await world.github.reply(threads[2].node_id, "mona", "Agreed, drop it")
    await world.github.resolve(threads[2].node_id, "mona")
    assert review.state == "CHANGES_REQUESTED"
    return [t.node_id for t in threads]


async def all_threads(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every thread, page by page, and each page's pageInfo."""
    nodes: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await world.graphql(THREADS, owner="acme", name="widgets", number=1, after=after)
        connection = answer["data"]["repository"]["pullRequest"]["reviewThreads"]
        nodes += connection["nodes"]
        pages.append(connection["pageInfo"] | {"totalCount": connection["totalCount"]})
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes, pages
        after = connection["pageInfo"]["endCursor"]


async def test_review_threads_page_over_graphql_with_the_whole_conversation(
    tmp_path: Path,
) -> None:
    async with github_world(tmp_path) as world:
        ids = await reviewed_pull(world)
        nodes, pages = await all_threads(world)

    assert [n["id"] for n in nodes] == ids
    assert [(p["hasNextPage"], p["totalCount"]) for p in pages] == [(True, 3), (False, 3)]
    assert [(n["isResolved"], n["line"], n["path"], n["diffSide"]) for n in nodes] == [
        (False, 5, "app.py", "RIGHT"),
        (False, 20, "app.py", "RIGHT"),
        (True, 4, "app.py", "RIGHT"),
    ]
    first = nodes[0]["comments"]["nodes"][0]
    assert (first["body"], first["author"]["login"]) == ("Why five in words?", "octo")
    assert first["diffHunk"].startswith("@@ ")
    assert first["diffHunk"].endswith("+line five")
    assert first["url"].endswith(f"/pull/1#discussion_r{first['databaseId']}")
    conversation = [(c["author"]["login"], c["body"]) for c in nodes[2]["comments"]["nodes"]]
    assert conversation == [
        ("octo", "Context line, still fine to comment"),
        ("mona", "Agreed, drop it"),
    ]


async def test_reply_and_resolve_mutations_are_recorded_and_announced(tmp_path: Path) -> None:
    async with github_world(tmp_path) as world:
        ids = await reviewed_pull(world)
        world.received.clear()
        replied = await world.graphql(REPLY, thread=ids[0], body="Done in abc123")
        resolved = await world.graphql(RESOLVE, thread=ids[0])
        await world.github.hooks.settled()
        rest_comments = (await world.api.get(f"{API}/pulls/1/comments")).json()

    comment = replied["data"]["addPullRequestReviewThreadReply"]["comment"]
    assert comment["author"] == {"login": "dursor", "__typename": "Bot"}  # no [bot] in GraphQL
    assert resolved["data"]["resolveReviewThread"] == {
        "clientMutationId": "r1",
        "thread": {"id": ids[0], "isResolved": True},
    }
    assert world.github.thread_actions[-2:] == [
        ThreadAction("reply", ids[0], "dursor[bot]", "Done in abc123"),
        ThreadAction("resolve", ids[0], "dursor[bot]"),
    ]
    reply = next(c for c in rest_comments if c["id"] == comment["databaseId"])
    assert reply["in_reply_to_id"] == rest_comments[0]["id"]
    assert reply["user"]["login"] == "dursor[bot]"
    kinds = [
        (r.event, r.payload.get("action"), r.payload["sender"]["login"]) for r in world.received
    ]
    assert kinds == [
        ("pull_request_review_comment", "created", "dursor[bot]"),
        ("pull_request_review", "submitted", "dursor[bot]"),
        ("pull_request_review_thread", "resolved", "dursor[bot]"),
    ]
    for delivery in world.received:
        assert delivery.signed_with(SECRET)
        assert_shape(EVENT_SCHEMAS[delivery.event], delivery.payload)
    thread = world.received[-1].payload["thread"]
    assert [c["body"] for c in thread["comments"]] == ["Why five in words?", "Done in abc123"]


async def test_graphql_refuses_like_github(tmp_path: Path) -> None:
    async with github_world(tmp_path) as world:
        await reviewed_pull(world)
        unknown = await world.graphql('{ repository(owner: "acme", name: "widgets") { stars } }')
        unbounded = await world.graphql(
            '{ repository(owner: "acme", name: "widgets") '
            "{ pullRequest(number: 1) { reviewThreads { totalCount } } } }"
        )
        excessive = await world.graphql(
            '{ repository(owner: "acme", name: "widgets") '
            "{ pullRequest(number: 1) { reviewThreads(first: 101) { totalCount } } } }"
        )
        foreign = await world.graphql('{ repository(owner: "acme", name: "secret") { id } }')
        bad_token = await world.api.post(
            "/api/graphql", json={"query": "{ node(id: \"x\") { id } }"},
            headers={"authorization": "Bearer ghs_wrong"},
        )  # fmt: skip
        missing_node = await world.graphql(RESOLVE, thread="PRRT_nope")

    assert "data" not in unknown
    assert "stars" in unknown["errors"][0]["message"]
    assert unbounded["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert excessive["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    assert "exceeds the `first` limit of 100 records" in excessive["errors"][0]["message"]
    assert foreign["data"] == {"repository": None}
    assert (foreign["errors"][0]["type"], foreign["errors"][0]["path"]) == (
        "NOT_FOUND",
        ["repository"],
    )
    assert bad_token.status_code == 401
    assert missing_node["errors"][0]["type"] == "NOT_FOUND"


async def test_rest_reviews_comments_and_their_pages(tmp_path: Path) -> None:
    async with github_world(tmp_path) as world:
        await reviewed_pull(world)
        reviews = (await world.api.get(f"{API}/pulls/1/reviews")).json()
        first_page = await world.api.get(f"{API}/pulls/1/comments", params={"per_page": 2})
        second_page = await world.api.get(first_page.links["next"]["url"])
        replied = await world.api.post(
            f"{API}/pulls/1/comments/{first_page.json()[1]['id']}/replies", json={"body": "ok"}
        )
        empty = await world.api.post(
            f"{API}/pulls/1/comments/{first_page.json()[1]['id']}/replies", json={"body": ""}
        )
        with pytest.raises(NotInDiff):
            world.github.reviews.submit(
                REPO, 1, "octo", "COMMENTED", "", [InlineComment("app.py", 29, "untouched line")]
            )

    for review in reviews:
        assert_shape(REVIEW, review)
    assert [(r["state"], r["user"]["login"]) for r in reviews] == [
        ("CHANGES_REQUESTED", "octo"),
        ("COMMENTED", "mona"),  # a reply outside a review is wrapped in one, as on GitHub
    ]
    for comment in first_page.json() + second_page.json():
        assert_shape(REVIEW_COMMENT, comment)
    assert [len(first_page.json()), len(second_page.json())] == [2, 2]
    assert 'rel="last"' in first_page.headers["link"]
    assert "next" not in second_page.links
    assert replied.status_code == 201
    assert replied.json()["in_reply_to_id"] == first_page.json()[1]["id"]
    assert empty.status_code == 422
