"""One identity per workload, each with only its own roles (infra/README.md's identity table)."""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from .bicep_tree import (
    module_calls,
    prop,
    properties,
    resources,
    string_value,
    text,
    variables,
)
from .conftest import REPO, dapr_apps

ROLE = "Microsoft.Authorization/roleAssignments"


def main_calls(template: dict[str, Tree]) -> dict[str, dict[str, Node]]:
    """Module symbol -> params of main.bicep's module calls."""
    return {c.symbol: c.params for c in module_calls(template["main"])}


def app_calls(template: dict[str, Tree]) -> dict[str, dict[str, Node]]:
    """App id -> params of container-apps.bicep's container-app.bicep calls."""
    calls = [
        c for c in module_calls(template["container-apps"]) if c.path == "./container-app.bicep"
    ]
    return {string_value(c.params["appId"]) or "?": c.params for c in calls}


def access(template: dict[str, Tree]) -> dict[str, Node]:
    """App id -> its entry of main.bicep's `access` table."""
    return properties(variables(template["main"])["access"])


def test_one_identity_per_workload(template: dict[str, Tree]) -> None:
    """Each Dapr app, the web UI, the migration job and the Redis components: one each."""
    tree = template["main"]
    assert set(access(template)) == set(dapr_apps())
    assert text(variables(tree)["daprApps"]) == "objectKeys(access)"
    workloads = text(variables(tree)["workloads"])
    assert re.fullmatch(
        r"concat\(daprApps, \[\s*'web'\s*'migrate'\s*'dapr-redis'\s*\]\)", workloads
    )
    (identity,) = resources(
        template["identities"], "Microsoft.ManagedIdentity/userAssignedIdentities"
    )
    assert text(prop(identity.body, "name") or identity.body) == "'id-${namePrefix}-${workload}'"


def test_only_dapr_sidecars_carry_the_redis_identity(template: dict[str, Tree]) -> None:
    """The Redis components sign in as dapr-redis: the Dapr apps hold it, nothing else does."""
    calls = app_calls(template)
    for app in dapr_apps():
        assert text(calls[app]["sidecarIdentityIds"]).split() == [
            "[",
            "identityOf['dapr-redis'].id",
            "]",
        ], app
    assert "sidecarIdentityIds" not in calls["web"]
    redis = text(main_calls(template)["cache"]["dataPrincipalIds"]).split()
    assert redis == ["[", "identityOf['dapr-redis'].principalId", "]"]


def test_every_workload_pulls_images_and_nothing_else_everywhere(template: dict[str, Tree]) -> None:
    """AcrPull for the apps, the web UI and the job; the Redis identity pulls nothing."""
    pullers = text(main_calls(template)["registry"]["pullerPrincipalIds"])
    assert re.fullmatch(
        r"map\(concat\(daprApps, \[\s*'web'\s*'migrate'\s*\]\), workload => "
        r"identityOf\[workload\]\.principalId\)",
        pullers,
    )
    (role,) = resources(template["registry"], ROLE)
    assert text(prop(role.body, "scope") or role.body) == "registry"


def test_blob_roles_only_where_artifacts_are_used(template: dict[str, Tree]) -> None:
    """agent-runner writes artifacts, run-api reads patches; roles scoped to the container."""
    blob = {app: string_value(prop(entry, "blob")) for app, entry in access(template).items()}
    assert blob == {
        "events-gateway": "none",
        "run-api": "reader",
        "agent-runner": "contributor",
        "auth": "none",
    }
    (role,) = resources(template["storage"], ROLE)
    assert text(prop(role.body, "scope") or role.body) == "container"
    artifacts_env = {
        app for app, params in app_calls(template).items() if "artifactsEnv" in text(params["env"])
    }
    assert artifacts_env == {"run-api", "agent-runner"}


def test_apps_sign_in_to_postgres_as_themselves(template: dict[str, Tree]) -> None:
    """Entra tokens of the app's own identity, its own login in the URL, no password at all."""
    tree = template["container-apps"]
    shared = text(variables(tree)["sharedEnv"])
    own = text(variables(tree)["ownEnv"])
    assert re.search(r"name: 'DURSOR_DATABASE_AUTH'\s+value: 'entra'", shared)
    assert re.search(r"name: 'AZURE_CLIENT_ID'\s+value: identityOf\[app\]\.clientId", own)
    assert "databaseUrl(identityOf[app].name," in own
    servers = resources(template["postgresql"], "Microsoft.DBforPostgreSQL/flexibleServers")
    (server,) = [r for r in servers if r.symbol == "server"]
    auth = prop(server.body, "properties", "authConfig")
    assert auth is not None
    assert string_value(prop(auth, "passwordAuth")) == "Disabled"
    assert string_value(prop(auth, "activeDirectoryAuth")) == "Enabled"
    assert "administratorLoginPassword" not in text(template["postgresql"].root_node)


def test_only_the_migration_job_administers_postgres(template: dict[str, Tree]) -> None:
    """The Entra administrator is the job's identity; it gives each app its login and role."""
    database = main_calls(template)["database"]
    assert text(database["administratorPrincipalId"]) == "identityOf.migrate.principalId"
    job = {c.symbol: c.params for c in module_calls(template["container-apps"])}["migrateJob"]
    assert text(job["identity"]) == "identityOf.migrate"
    logins = text(job["logins"])
    assert logins.startswith("map(daprApps, app => {")
    assert "role: 'dursor_${replace(app, '-', '_')}'" in logins
    assert "object_id: identityOf[app].principalId" in logins


def test_login_roles_are_the_migrations_service_roles() -> None:
    """Each app's login joins the role the migrations create for it (dursor_<app id>)."""
    migrations = "\n".join(
        p.read_text() for p in sorted((REPO / "migrations/versions").glob("*.py"))
    )
    for app in dapr_apps():
        role = "dursor_" + app.replace("-", "_")
        assert f'"{role}"' in migrations, f"no migration creates {role}"


# Built-in role ids: Key Vault Secrets User/Officer, Storage Blob Data Contributor/Reader, AcrPull.
LEAST_ROLES = {
    "keyvault": {"4633458b-17de-408a-b874-0445c86b69e6", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"},
    "storage": {"ba92f5b4-2d11-453d-a403-e96b0029c9fe", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"},
    "registry": {"7f951dda-4ed3-4680-a7ca-43fe172d538d"},
}
GUID = re.compile(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")


def test_only_data_plane_roles_are_granted(template: dict[str, Tree]) -> None:
    """No Owner, Contributor or other management role: each module grants its data roles only."""
    for module, expected in LEAST_ROLES.items():
        assert set(GUID.findall(text(template[module].root_node))) == expected, module
    granted = {module for module, tree in template.items() if resources(tree, ROLE)}
    assert granted == set(LEAST_ROLES)


def test_readme_identity_table_names_every_workload(template: dict[str, Tree]) -> None:
    """infra/README.md says what each identity may do, for every identity the templates make."""
    readme = (REPO / "infra/README.md").read_text()
    workloads = [*dapr_apps(), "web", "migrate", "dapr-redis"]
    rows = set(re.findall(r"^\| `id-<env>-([a-z-]+)` \|", readme, re.MULTILINE))
    assert rows == set(workloads)
    for app, entry in access(template).items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `id-<env>-{app}`"))
        for secret in string_list_of(prop(entry, "secrets")):
            assert f"`{secret}`" in row, (app, secret)


def string_list_of(node: Node | None) -> list[str]:
    """Values of an array of string literals."""
    assert node is not None
    return [v for item in node.named_children if (v := string_value(item)) is not None]
