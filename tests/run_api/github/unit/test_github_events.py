"""Which webhook events mean what: CI signals, reviews and comments addressed to dursor."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from dursor_contracts.pull_requests import CiStatus
from events_gateway.webhooks.service import signature_ok
from run_api.github.loop_intake import CiVerdict, ReviewAsk, ci_verdict, review_ask
from run_api.github.service import GitHubEvent, ci_signal, mention_of


def comment(body: str, association: str = "MEMBER", action: str = "created") -> GitHubEvent:
    """A PR review comment delivery."""
    payload: dict[str, Any] = {
        "action": action,
        "pull_request": {"number": 3, "html_url": "u"},
        "comment": {"body": body, "author_association": association, "user": {"login": "octo"}},
    }
    return GitHubEvent("pull_request_review_comment", "d1", payload)


def test_trusted_mention_becomes_a_follow_up_without_the_mention() -> None:
    assert mention_of(comment("@dursor please add tests"), "@dursor") == (
        3,
        "please add tests",
        "octo",
    )


def test_comments_from_outsiders_edits_and_unaddressed_ones_are_ignored() -> None:
    assert mention_of(comment("@dursor rm -rf", "NONE"), "@dursor") is None
    assert mention_of(comment("@dursor later", action="edited"), "@dursor") is None
    assert mention_of(comment("looks good"), "@dursor") is None


def test_issue_comments_count_only_on_pull_requests() -> None:
    issue = {
        "action": "created",
        "issue": {"number": 9, "html_url": "u"},
        "comment": {"body": "@dursor x", "author_association": "OWNER"},
    }
    assert mention_of(GitHubEvent("issue_comment", "d", issue), "@dursor") is None
    issue["issue"] = {"number": 9, "html_url": "u", "pull_request": {}}
    assert mention_of(GitHubEvent("issue_comment", "d", issue), "@dursor") == (9, "x", "github")


def test_ci_signals() -> None:
    suite = {"check_suite": {"head_sha": "abc", "conclusion": "failure"}}
    assert ci_signal(GitHubEvent("check_suite", "d", suite)) == ("abc", "failure")
    run = {"check_run": {"head_sha": "abc", "conclusion": None}}
    assert ci_signal(GitHubEvent("check_run", "d", run)) == ("abc", "pending")
    assert ci_signal(GitHubEvent("status", "d", {"sha": "abc", "state": "success"})) == (
        "abc",
        "success",
    )
    assert ci_signal(GitHubEvent("push", "d", {})) is None


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    expected = "sha256=" + hmac.new(b"s3cret", b'{"a":1}', hashlib.sha256).hexdigest()
    assert signature_ok(b"s3cret", b'{"a":1}', expected)
    assert not signature_ok(b"s3cret", b'{"a":2}', expected)
    assert not signature_ok(b"other", b'{"a":1}', expected)
    assert not signature_ok(b"s3cret", b'{"a":1}', None)
    assert not signature_ok(b"s3cret", b'{"a":1}', expected.replace("sha256=", "sha1="))


def test_a_review_comment_of_a_review_belongs_to_the_review_not_to_mentions() -> None:
    event = comment("@dursor rename this")
    event.payload["comment"]["pull_request_review_id"] = 77
    assert mention_of(event, "@dursor") is None
    asked = review_ask(event.name, event.payload, "@dursor")
    assert asked == ReviewAsk("u", 77, "octo")


def review(state: str, body: str = "", user_type: str = "User") -> dict[str, Any]:
    """A `pull_request_review` submitted payload."""
    return {
        "action": "submitted",
        "pull_request": {"number": 3, "html_url": "u"},
        "review": {"id": 5, "state": state, "body": body, "user": {"login": "octo"}},
        "sender": {"login": "octo", "type": user_type},
    }


def test_reviews_asking_for_changes_or_mentioning_dursor_ask() -> None:
    assert review_ask("pull_request_review", review("changes_requested"), "@dursor") == ReviewAsk(
        "u", 5, "octo"
    )
    mentioned = review("commented", "@Dursor please tidy")
    assert review_ask("pull_request_review", mentioned, "@dursor") is not None
    assert review_ask("pull_request_review", review("approved", "nice"), "@dursor") is None
    assert review_ask("pull_request_review", review("commented", "lgtm"), "@dursor") is None


def test_the_apps_own_reviews_never_ask() -> None:
    bot = review("changes_requested", user_type="Bot")
    assert review_ask("pull_request_review", bot, "@dursor") is None


def test_ci_verdicts_name_their_source() -> None:
    suite = {
        "action": "completed",
        "check_suite": {"id": 9, "head_sha": "abc", "conclusion": "failure"},
    }
    assert ci_verdict("check_suite", suite) == CiVerdict("abc", "check-suite:9", CiStatus.FAILURE)
    status = {"sha": "abc", "state": "error", "context": "ci/legacy"}
    assert ci_verdict("status", status) == CiVerdict("abc", "status:ci/legacy", CiStatus.FAILURE)
    assert ci_verdict("check_run", {"check_run": {"head_sha": "abc"}}) is None
    requested = {"action": "requested", "check_suite": {"id": 9, "head_sha": "abc"}}
    assert ci_verdict("check_suite", requested) is None
