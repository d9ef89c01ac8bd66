"""The GitHub App side of the stand-in: App JWTs, installation tokens, collaborator permissions.

Follows docs.github.com/rest "Apps" (Get a repository installation for the authenticated
app; Create an installation access token for an app: 201 with `token`, `expires_at`,
`repositories`) and "Collaborators" (Get repository permissions for a user: `permission`
is the legacy base role, maintain reads as write and triage as read; `role_name` the
full role; `user` a collaborator with its `permissions` hash).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt
from starlette.requests import Request
from starlette.responses import Response

from tests.standins.github.gate import RestGate, bearer, repo_of
from tests.standins.github.shapes import Site, user

# A repository role -> GitHub's legacy base permission (`permission`).
ROLE_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
ROLE_ORDER = ("read", "triage", "write", "maintain", "admin")
PERMISSION_FLAGS = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain"}
TokenCheck = Callable[[str, str], bool]


@dataclass
class AppAccess:
    """Installations, the tokens issued for them, and who may do what on each repository."""

    app_id: str
    app_public_key: str | None
    installations: dict[str, int]
    collaborators: dict[str, dict[str, str]]
    token_ok: TokenCheck | None = None
    issued: dict[str, tuple[str, float]] = field(default_factory=dict)

    def valid_token(self, token: str, repo: str) -> bool:
        """An installation token issued for this repository and not expired (or a test's)."""
        if self.token_ok is not None and self.token_ok(token, repo):
            return True
        granted, expires = self.issued.get(token, ("", 0.0))
        return granted == repo and time.time() < expires

    def role(self, repo: str, login: str) -> str:
        """A user's role on a repository: admin, maintain, write, triage, read or none."""
        return self.collaborators.get(repo, {}).get(login, "none")

    def can_write(self, repo: str, login: str) -> bool:
        """Whether the user may push (write, maintain or admin)."""
        return ROLE_PERMISSION[self.role(repo, login)] in ("write", "admin")

    def author_association(self, repo: str, login: str) -> str:
        """How GitHub labels a commenter: OWNER, COLLABORATOR (any role, even read) or NONE."""
        if login == repo.split("/", 1)[0]:
            return "OWNER"
        return "COLLABORATOR" if self.role(repo, login) != "none" else "NONE"

    def app_jwt_ok(self, request: Request) -> bool:
        """A JWT signed with the App's key whose issuer is the App id."""
        if self.app_public_key is None:
            return False
        try:
            claims = jwt.decode(bearer(request), self.app_public_key, algorithms=["RS256"])
        except jwt.InvalidTokenError:
            return False
        return str(claims.get("iss")) == self.app_id


class AccessRoutes:
    """REST routes of the App (installation, access tokens) and of collaborator permissions."""

    def __init__(self, access: AppAccess, gate: RestGate, site: Site) -> None:
        self._access = access
        self._gate = gate
        self._site = site

    async def repo_installation(self, request: Request) -> Response:
        """The App's installation on a repository (App JWT required)."""
        if not self._access.app_jwt_ok(request):
            return self._gate.error(request, 401, "A JSON web token could not be decoded")
        installation = self._access.installations.get(repo_of(request))
        if installation is None:
            return self._gate.error(request, 404, "Not Found")
        account = user(self._site, request.path_params["owner"])
        return self._gate.json(
            request,
            200,
            {"id": installation, "account": account, "app_id": int(self._access.app_id)},
        )

    async def create_access_token(self, request: Request) -> Response:
        """A one-hour token for the listed repositories of an installation (201)."""
        if not self._access.app_jwt_ok(request):
            return self._gate.error(request, 401, "A JSON web token could not be decoded")
        installation = request.path_params["installation"]
        names = (await request.json()).get("repositories", [])
        owned = [r for r, i in self._access.installations.items() if i == installation]
        chosen = [r for r in owned if r.split("/", 1)[1] in names]
        if len(chosen) != 1:
            message = "There is at least one repository that does not exist or is not accessible"
            return self._gate.error(request, 422, message)
        token = "ghs_" + secrets.token_urlsafe(27)
        expires = time.time() + 3600
        self._access.issued[token] = (chosen[0], expires)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        body = {"token": token, "expires_at": stamp, "repositories": [{"full_name": chosen[0]}]}
        return self._gate.json(request, 201, body)

    async def collaborator_permission(self, request: Request) -> Response:
        """A user's permission on the repository, in GitHub's shape."""
        repo = repo_of(request)
        if (refused := self._gate.refuse(request, repo)) is not None:
            return refused
        login = request.path_params["username"]
        role = self._access.role(repo, login)
        rank = ROLE_ORDER.index(role) if role in ROLE_ORDER else -1
        flags = {
            flag: rank >= ROLE_ORDER.index(needed) for flag, needed in PERMISSION_FLAGS.items()
        }
        collaborator = user(self._site, login) | {
            "permissions": flags | {"admin": role == "admin"},
            "role_name": role,
        }
        body = {"permission": ROLE_PERMISSION[role], "role_name": role, "user": collaborator}
        return self._gate.json(request, 200, body)
