"""A local stand-in for the parts of GitHub dursor touches, faithful to GitHub's documented shapes.

It serves, under a GitHub Enterprise Server layout (REST at `/api/v3`, GraphQL at
`/api/graphql`, git at `/{owner}/{repo}.git`):

- git over smart HTTP; pushes need an installation token (`git_repos`);
- the GitHub App: installation lookup and installation tokens from an App JWT,
  collaborator permissions (`access`: REST "Apps", "Collaborators");
- pull requests and their conversation comments (`pulls`: REST "Pulls", "Issues: comments");
- reviews, inline review comments, threads, replies (`reviews`: REST "Pulls: reviews",
  "Pulls: review comments");
- review threads over GraphQL with `first/after` pagination, and the mutations
  `resolveReviewThread`, `unresolveReviewThread`, `addPullRequestReviewThreadReply`
  (`graphql_api`: GraphQL reference, "Using pagination in the GraphQL API");
- CI: check suites and check runs, GitHub Actions jobs with steps and logs (302 to a
  plain-text download), commit statuses of other CIs with a details page
  (`checks`, `ci_shapes`: REST "Checks: check runs", "Checks: check suites",
  "Actions: workflow jobs", "Commits: commit statuses");
- a scriptable CI that reacts to a PR's new head commit (`ci`);
- signed webhooks to the App's URL: `pull_request`, `check_run`, `check_suite`,
  `status`, `pull_request_review`, `pull_request_review_comment`,
  `pull_request_review_thread`, `issue_comment` (`webhooks`: "Webhook events and
  payloads", "Validating webhook deliveries");
- rate limits, ETags/304, pagination `link` headers, injected failures (`gate`).

Tests drive it as GitHub's people would (`submit_review`, `reply`, `resolve`,
`comment`, `close_pull`, `ci.react`/`ci.run`/`ci.rerun`) and read back what dursor did
(`calls`, `thread_actions`, `threads`, `issue_comments`, `hooks.deliveries`).
tests/standins/README.md lists the covered endpoints with their docs pages.
"""

from tests.standins.github.ci import (
    CiScript,
    ExternalStatus,
    Job,
    PushedHead,
    Step,
    failing,
    passing,
)
from tests.standins.github.reviews import InlineComment, NotInDiff, ThreadAction
from tests.standins.github.standin import GitHubRepos
from tests.standins.github.store import PullState
from tests.standins.github.webhooks import Delivery, signature_256

__all__ = [
    "CiScript",
    "Delivery",
    "ExternalStatus",
    "GitHubRepos",
    "InlineComment",
    "Job",
    "NotInDiff",
    "PullState",
    "PushedHead",
    "Step",
    "ThreadAction",
    "failing",
    "passing",
    "signature_256",
]
