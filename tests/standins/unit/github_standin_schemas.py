"""JSON Schemas of GitHub's responses and webhook payloads, kept here to hold the stand-in to them.

The required-field lists are those of GitHub's REST reference (docs.github.com/rest,
API version 2022-11-28: the response schemas of "Users" simple-user, "Apps"
integration, "Repositories" repository, "Pulls" pull-request, "Pulls: reviews",
"Pulls: review comments", "Issues: comments", "Collaborators" permission, "Checks"
check-run and check-suite, "Actions: workflow jobs" job, "Commits: commit statuses")
and of "Webhook events and payloads" for each event the stand-in sends.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}


def obj(required: str, **properties: Schema) -> Schema:
    """An object schema requiring the space-separated fields."""
    return {"type": "object", "required": required.split(), "properties": properties}


def nullable(schema: Schema) -> Schema:
    """The schema, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def enum(*values: str | None) -> Schema:
    """One of the values."""
    return {"enum": list(values)}


def array(items: Schema) -> Schema:
    """An array of items."""
    return {"type": "array", "items": items}


SIMPLE_USER = obj(
    "login id node_id avatar_url gravatar_id url html_url followers_url following_url gists_url "
    "starred_url subscriptions_url organizations_url repos_url events_url received_events_url "
    "type site_admin",
    login=STR,
    id=INT,
    type=enum("User", "Bot", "Organization"),
    site_admin=BOOL,
)
REPO_URLS = (
    "archive_url assignees_url blobs_url branches_url collaborators_url comments_url commits_url "
    "compare_url contents_url contributors_url deployments_url downloads_url events_url forks_url "
    "git_commits_url git_refs_url git_tags_url issue_comment_url issue_events_url issues_url "
    "keys_url labels_url languages_url merges_url milestones_url notifications_url pulls_url "
    "releases_url stargazers_url statuses_url subscribers_url subscription_url tags_url teams_url "
    "trees_url hooks_url"
)
MINIMAL_REPOSITORY = obj(
    f"id node_id name full_name owner private html_url description fork url {REPO_URLS}",
    full_name=STR,
    owner=SIMPLE_USER,
)
REPOSITORY = obj(
    f"id node_id name full_name license forks owner html_url description fork url {REPO_URLS} "
    "git_url ssh_url clone_url mirror_url svn_url homepage language forks_count stargazers_count "
    "watchers_count size default_branch open_issues_count has_pages disabled pushed_at "
    "created_at updated_at open_issues watchers",
    full_name=STR,
    owner=SIMPLE_USER,
)
INTEGRATION = obj(
    "id node_id owner name description external_url html_url created_at updated_at "
    "permissions events",
    id=INT,
    slug=STR,
    owner=SIMPLE_USER,
)
REF = obj("ref sha repo", ref=STR, sha=STR, repo=obj("id url name"))
PULL_MINIMAL = obj("id number url head base", number=INT, head=REF, base=REF)
LINK = obj("href", href=STR)
PULL_REF = obj("label ref repo sha user", repo=REPOSITORY, user=SIMPLE_USER)
PULL_REQUEST = obj(
    "url id node_id html_url diff_url patch_url issue_url commits_url review_comments_url "
    "review_comment_url comments_url statuses_url number state locked title user body labels "
    "milestone created_at updated_at closed_at merged_at merge_commit_sha assignee head base "
    "_links author_association auto_merge merged mergeable mergeable_state merged_by comments "
    "review_comments maintainer_can_modify commits additions deletions changed_files",
    number=INT,
    state=enum("open", "closed"),
    merged=BOOL,
    user=SIMPLE_USER,
    head=PULL_REF,
    base=PULL_REF,
    _links=obj(
        "comments commits statuses html issue review_comments review_comment self",
        html=LINK,
        comments=LINK,
        statuses=LINK,
    ),
)
CHECK_CONCLUSION = enum(
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required", None
)
CHECK_RUN = obj(
    "id head_sha node_id external_id url html_url details_url status conclusion started_at "
    "completed_at output name check_suite app pull_requests",
    id=INT,
    status=enum("queued", "in_progress", "completed", "waiting", "requested", "pending"),
    conclusion=CHECK_CONCLUSION,
    output=obj("title summary text annotations_count annotations_url", annotations_count=INT),
    check_suite=nullable(obj("id", id=INT)),
    app=nullable(INTEGRATION),
    pull_requests=array(PULL_MINIMAL),
)
HEAD_COMMIT = obj("id tree_id message timestamp author committer")
CHECK_SUITE = obj(
    "id node_id head_branch head_sha status conclusion url before after pull_requests app "
    "repository created_at updated_at head_commit latest_check_runs_count check_runs_url",
    id=INT,
    status=nullable(enum("queued", "in_progress", "completed", "waiting", "requested", "pending")),
    conclusion=CHECK_CONCLUSION,
    pull_requests=array(PULL_MINIMAL),
    app=nullable(INTEGRATION),
    repository=MINIMAL_REPOSITORY,
    head_commit=HEAD_COMMIT,
    latest_check_runs_count=INT,
)
JOB_STEP = obj("status conclusion name number", number=INT, name=STR)
JOB = obj(
    "id run_id run_url node_id head_sha url html_url status conclusion created_at started_at "
    "completed_at name check_run_url labels runner_id runner_name runner_group_id "
    "runner_group_name workflow_name head_branch",
    id=INT,
    run_id=INT,
    run_attempt=INT,
    status=enum("queued", "in_progress", "completed", "waiting", "requested", "pending"),
    steps=array(JOB_STEP),
)
STATUS = obj(
    "url avatar_url id node_id state description target_url context created_at updated_at creator",
    id=INT,
    state=STR,
    creator=nullable(SIMPLE_USER),
)
COMBINED_STATUS = obj(
    "state statuses sha total_count repository commit_url url",
    state=enum("success", "failure", "pending"),
    statuses=array(
        obj("description id node_id state context target_url avatar_url url created_at updated_at")
    ),
    repository=MINIMAL_REPOSITORY,
)
REVIEW = obj(
    "id node_id user body state html_url pull_request_url _links commit_id author_association",
    id=INT,
    user=nullable(SIMPLE_USER),
    state=enum("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"),
    _links=obj("html pull_request", html=LINK, pull_request=LINK),
)
REVIEW_COMMENT = obj(
    "url pull_request_review_id id node_id diff_hunk path commit_id original_commit_id user body "
    "created_at updated_at html_url pull_request_url author_association _links",
    id=INT,
    diff_hunk=STR,
    in_reply_to_id=INT,
    user=SIMPLE_USER,
    _links=obj("self html pull_request", self=LINK, html=LINK, pull_request=LINK),
)
ISSUE_COMMENT = obj(
    "id node_id url html_url user created_at updated_at issue_url",
    id=INT,
    body=STR,
    user=nullable(SIMPLE_USER),
)
COLLABORATOR = obj(
    "login id node_id avatar_url gravatar_id url html_url followers_url following_url gists_url "
    "starred_url subscriptions_url organizations_url repos_url events_url received_events_url "
    "type site_admin role_name",
    permissions=obj("pull triage push maintain admin"),
)
PERMISSION = obj(
    "permission role_name user",
    permission=enum("admin", "write", "read", "none"),
    user=nullable(COLLABORATOR),
)


def event(required: str, **properties: Schema) -> Schema:
    """A webhook payload: its own fields plus an App delivery's repository and installation."""
    schema = obj(required + " repository installation", **properties)
    schema["properties"] |= {"repository": REPOSITORY, "installation": obj("id node_id")}
    return schema


WEBHOOK_PULL = obj(
    "_links active_lock_reason assignee assignees author_association base body closed_at "
    "comments_url commits_url created_at diff_url head html_url id issue_url labels locked "
    "merge_commit_sha merged_at milestone node_id number patch_url requested_reviewers "
    "requested_teams review_comment_url review_comments_url state statuses_url title "
    "updated_at url user",
    head=PULL_REF,
    base=PULL_REF,
)
CHECK_SUITE_EVENT = event(
    "action check_suite sender",
    check_suite=obj(
        "after app before check_runs_url conclusion created_at head_branch head_commit head_sha "
        "id latest_check_runs_count node_id pull_requests status updated_at url",
        app=INTEGRATION,
        head_commit=HEAD_COMMIT,
        pull_requests=array(PULL_MINIMAL),
    ),
    sender=SIMPLE_USER,
)
CHECK_RUN_EVENT = event(
    "action check_run sender",
    check_run=obj(
        "app check_suite completed_at conclusion details_url external_id head_sha html_url id "
        "name node_id output pull_requests started_at status url",
        check_suite=obj("id head_sha app pull_requests status conclusion"),
    ),
    sender=SIMPLE_USER,
)
STATUS_EVENT = event(
    "branches commit context created_at description id name sender sha state target_url updated_at",
    commit=obj("author comments_url commit committer html_url node_id parents sha url"),
    branches=array(obj("commit name protected")),
    state=enum("pending", "success", "failure", "error"),
)
REVIEW_EVENT = event(
    "action pull_request review sender",
    review=obj(
        "_links author_association body commit_id html_url id node_id pull_request_url state "
        "submitted_at user",
        state=enum("commented", "changes_requested", "approved", "dismissed"),
    ),
    pull_request=WEBHOOK_PULL,
)
REVIEW_COMMENT_EVENT = event(
    "action comment pull_request sender",
    comment=obj(
        "_links author_association body commit_id created_at diff_hunk html_url id line node_id "
        "original_commit_id original_line original_position original_start_line path position "
        "pull_request_review_id pull_request_url reactions side start_line updated_at url user"
    ),
    pull_request=WEBHOOK_PULL,
)
THREAD_EVENT = event(
    "action pull_request thread",
    thread=obj("comments node_id", comments=array(REVIEW_COMMENT)),
    pull_request=WEBHOOK_PULL,
)
ISSUE_COMMENT_EVENT = event(
    "action comment issue sender",
    comment=obj(
        "author_association body created_at html_url id issue_url node_id "
        "performed_via_github_app reactions updated_at url user"
    ),
    issue=obj(
        "active_lock_reason assignee assignees author_association body closed_at comments "
        "comments_url created_at events_url html_url id labels labels_url locked milestone "
        "node_id number reactions repository_url state title updated_at url user",
        pull_request=obj("url html_url diff_url patch_url merged_at"),
    ),
)
PULL_REQUEST_EVENT = event("action number pull_request sender", pull_request=PULL_REQUEST)
EVENT_SCHEMAS = {
    "check_suite": CHECK_SUITE_EVENT,
    "check_run": CHECK_RUN_EVENT,
    "status": STATUS_EVENT,
    "pull_request_review": REVIEW_EVENT,
    "pull_request_review_comment": REVIEW_COMMENT_EVENT,
    "pull_request_review_thread": THREAD_EVENT,
    "issue_comment": ISSUE_COMMENT_EVENT,
    "pull_request": PULL_REQUEST_EVENT,
}
