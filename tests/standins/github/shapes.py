"""GitHub's JSON objects for users, apps, repositories and pull requests.

Field lists follow the REST reference's response schemas (docs.github.com/rest:
"Users" simple-user, "Apps" integration, "Repositories" repository, "Pulls"
pull-request and its `_links`), which the webhook payloads reuse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tests.standins.github.git_repos import RepoGit
from tests.standins.github.store import PullState, Store, node_id

Json = dict[str, Any]
EPOCH = "2026-01-01T00:00:00Z"
ACTIONS_APP = "github-actions"
# The apps whose check suites the stand-in knows: slug -> (id, name, owner).
KNOWN_APPS = {
    ACTIONS_APP: (15368, "GitHub Actions", "github"),
    "legacy-ci": (9001, "Legacy CI", "ci-vendor"),
}
# A repository's `*_url` hypermedia templates, below its API URL.
REPO_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def numeric_id(text: str) -> int:
    """A stable numeric id for a name (users, repositories)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:7], 16)


@dataclass(frozen=True)
class Site:
    """Where the stand-in lives: its web (html) base, its own base URL, and the App it serves."""

    html: str
    own: str
    app_id: int
    app_slug: str

    @property
    def api(self) -> str:
        """The REST base (GitHub Enterprise Server layout)."""
        return f"{self.own}/api/v3"

    @property
    def bot(self) -> str:
        """The App's bot account, the author of everything an installation token does."""
        return f"{self.app_slug}[bot]"

    def repo_api(self, repo: str) -> str:
        """A repository's REST URL."""
        return f"{self.api}/repos/{repo}"

    def repo_html(self, repo: str) -> str:
        """A repository's web URL."""
        return f"{self.html}/{repo}"


def user(site: Site, login: str) -> Json:
    """A `simple-user`; the App's bot is of type Bot."""
    api = f"{site.api}/users/{login}"
    is_bot = login == site.bot
    return {
        "login": login,
        "id": numeric_id(login),
        "node_id": node_id("BOT" if is_bot else "U", numeric_id(login)),
        "avatar_url": f"{site.html}/avatars/{login}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{site.html}/apps/{site.app_slug}" if is_bot else f"{site.html}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot" if is_bot else "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def app(site: Site, slug: str) -> Json:
    """An `integration` (GitHub App): GitHub Actions, a legacy CI, or dursor's own App."""
    app_id, name, owner = KNOWN_APPS.get(slug, (site.app_id, "dursor", "dursor"))
    return {
        "id": app_id,
        "slug": slug,
        "node_id": node_id("A", app_id),
        "client_id": f"Iv1.{app_id:016x}",
        "owner": user(site, owner),
        "name": name,
        "description": "",
        "external_url": f"{site.html}/apps/{slug}",
        "html_url": f"{site.html}/apps/{slug}",
        "created_at": EPOCH,
        "updated_at": EPOCH,
        "permissions": {"checks": "write", "contents": "write", "pull_requests": "write"},
        "events": ["check_run", "check_suite", "pull_request", "status"],
    }


def repository(site: Site, repo: str, default_branch: str = "main") -> Json:
    """A full `repository` object (the webhooks' and pull requests' `repo`)."""
    owner, name = repo.split("/", 1)
    api, html = site.repo_api(repo), site.repo_html(repo)
    host = site.html.split("://", 1)[-1]
    body: Json = {
        "id": numeric_id(repo),
        "node_id": node_id("R", numeric_id(repo)),
        "name": name,
        "full_name": repo,
        "private": True,
        "visibility": "private",
        "owner": user(site, owner),
        "html_url": html,
        "description": None,
        "fork": False,
        "url": api,
        "git_url": f"git://{host}/{repo}.git",
        "ssh_url": f"git@{host}:{repo}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "license": None,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 1,
        "default_branch": default_branch,
        "open_issues_count": 0,
        "open_issues": 0,
        "has_pages": False,
        "disabled": False,
        "archived": False,
        "pushed_at": EPOCH,
        "created_at": EPOCH,
        "updated_at": EPOCH,
    }
    return body | {key: api + suffix for key, suffix in REPO_URL_TEMPLATES.items()}


def pull_links(site: Site, repo: str, number: int) -> Json:
    """A pull request's `_links`."""
    api = site.repo_api(repo)
    hrefs = {
        "self": f"{api}/pulls/{number}",
        "html": f"{site.repo_html(repo)}/pull/{number}",
        "issue": f"{api}/issues/{number}",
        "comments": f"{api}/issues/{number}/comments",
        "review_comments": f"{api}/pulls/{number}/comments",
        "review_comment": f"{api}/pulls/comments{{/number}}",
        "commits": f"{api}/pulls/{number}/commits",
        "statuses": "",  # filled with the head sha below
    }
    return {key: {"href": href} for key, href in hrefs.items()}


def pull_request(site: Site, git: RepoGit, store: Store, repo: str, pull: PullState) -> Json:
    """A full `pull-request` object, its counts taken from git and the store."""
    api, number = site.repo_api(repo), pull.number
    head_sha = git.branch_sha(repo, pull.head) or ""
    base_sha = git.branch_sha(repo, pull.base) or ""
    stats = git.stats(repo, base_sha, head_sha) if head_sha and base_sha else None
    links = pull_links(site, repo, number)
    links["statuses"] = {"href": f"{api}/statuses/{head_sha}"}
    owner = repo.split("/", 1)[0]
    return {
        "url": f"{api}/pulls/{number}",
        "id": pull.id,
        "node_id": pull.node_id,
        "html_url": f"{site.repo_html(repo)}/pull/{number}",
        "diff_url": f"{site.repo_html(repo)}/pull/{number}.diff",
        "patch_url": f"{site.repo_html(repo)}/pull/{number}.patch",
        "issue_url": f"{api}/issues/{number}",
        "commits_url": f"{api}/pulls/{number}/commits",
        "review_comments_url": f"{api}/pulls/{number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "statuses_url": f"{api}/statuses/{head_sha}",
        "number": number,
        "state": pull.state,
        "locked": False,
        "active_lock_reason": None,
        "title": pull.title,
        "user": user(site, pull.user or site.bot),
        "body": pull.body,
        "labels": [],
        "milestone": None,
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": pull.closed_at,
        "merged_at": pull.merged_at,
        "merge_commit_sha": head_sha if pull.merged else None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _ref(site, repo, owner, pull.head, head_sha),
        "base": _ref(site, repo, owner, pull.base, base_sha),
        "_links": links,
        "author_association": "NONE",
        "auto_merge": None,
        "draft": False,
        "merged": pull.merged,
        "mergeable": None if pull.state == "closed" else True,
        "rebaseable": None if pull.state == "closed" else True,
        "mergeable_state": "unknown" if pull.state == "closed" else "clean",
        "merged_by": user(site, pull.merged_by) if pull.merged_by else None,
        "comments": sum(
            1 for c in store.issue_comments.values() if (c.repo, c.number) == (repo, number)
        ),
        "review_comments": sum(
            1 for c in store.review_comments.values() if (c.repo, c.number) == (repo, number)
        ),
        "maintainer_can_modify": False,
        "commits": stats.commits if stats else 0,
        "additions": stats.additions if stats else 0,
        "deletions": stats.deletions if stats else 0,
        "changed_files": stats.changed_files if stats else 0,
    }


def _ref(site: Site, repo: str, owner: str, ref: str, sha: str) -> Json:
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(site, owner),
        "repo": repository(site, repo),
    }


def pull_minimal(site: Site, git: RepoGit, repo: str, pull: PullState) -> Json:
    """The `pull-request-minimal` a check run or check suite lists."""
    repo_ref = {"id": numeric_id(repo), "url": site.repo_api(repo), "name": repo.split("/", 1)[1]}
    return {
        "id": pull.id,
        "number": pull.number,
        "url": f"{site.repo_api(repo)}/pulls/{pull.number}",
        "head": {"ref": pull.head, "sha": git.branch_sha(repo, pull.head) or "", "repo": repo_ref},
        "base": {"ref": pull.base, "sha": git.branch_sha(repo, pull.base) or "", "repo": repo_ref},
    }
