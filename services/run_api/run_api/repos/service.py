"""Which repository URLs run-api accepts: HTTPS on allowed hosts, file:// only locally.

A local repository must lie under the operator's `DURSOR_LOCAL_REPOS_ROOT` once its
path is resolved (`..` and symlinks followed), so no caller can point an agent's clone
at `/etc` or another user's files.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from dursor_kit.errors import Invalid, Unprocessable
from run_api.settings import RunApiSettings


def normalise_repo_url(url: str, settings: RunApiSettings) -> str:
    """The canonical form of an acceptable URL, or a domain error that says why not."""
    parts = urlsplit(url.strip())
    if parts.scheme == "file":
        return _local_repo_url(parts, settings.local_repos_root)
    host_and_port = parts.netloc.rpartition("@")[2].lower()
    plain_http_ok = host_and_port in {h.lower() for h in settings.insecure_repo_hosts}
    if parts.scheme != "https" and not (parts.scheme == "http" and plain_http_ok):
        raise Invalid("repository URLs must use https", code="repo-url-not-allowed", field="url")
    if parts.username or parts.password:
        raise Invalid(
            "repository URLs must not carry credentials", code="repo-url-invalid", field="url"
        )
    host = (parts.hostname or "").lower()
    if host not in {h.lower() for h in settings.allowed_repo_hosts} and not plain_http_ok:
        raise Invalid(
            f"host {host or '(none)'} is not allowed", code="repo-url-not-allowed", field="url"
        )
    path = parts.path.rstrip("/")
    if path.count("/") < 2 or parts.query or parts.fragment:
        raise Invalid(
            "expected https://<host>/<owner>/<repo>", code="repo-url-invalid", field="url"
        )
    return urlunsplit(
        (parts.scheme, host if parts.port is None else f"{host}:{parts.port}", path, "", "")
    )


def _local_repo_url(parts: SplitResult, root: Path | None) -> str:
    """`file://` + the resolved path, when it lies under the local repositories' root."""
    if root is None:
        raise Invalid(
            "file:// repositories are local mode only", code="repo-url-not-allowed", field="url"
        )
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise Invalid(
            "a file:// URL is file:///<absolute path>", code="repo-url-invalid", field="url"
        )
    resolved = Path(unquote(parts.path)).resolve()
    if not resolved.is_relative_to(root.resolve()):
        detail = "local repositories must lie under the configured root directory"
        raise Unprocessable(detail, code="repo-outside-local-root", field="url")
    return resolved.as_uri()
