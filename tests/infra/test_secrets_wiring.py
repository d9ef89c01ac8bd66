"""Key Vault carries every secret the code reads, and no template carries a secret value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tree_sitter import Node, Tree

from dursor_kit.secret_names import ALL_SECRETS

from .bicep_tree import (
    declarations,
    first_string,
    parameters,
    parse_source,
    prop,
    properties,
    resources,
    string_fragments,
    string_list,
    string_value,
    text,
    variables,
    walk,
)
from .conftest import INFRA, REPO, bicepparam_files, dapr_apps, relative, yaml_documents

SENSITIVE_NAME = re.compile(
    r"(password|secret|token|connectionstring|privatekey|accesskey|accountkey|sharedkey|"
    r"primarykey|secondarykey|apikey)s?$",
    re.IGNORECASE,
)
SECRET_LITERAL = re.compile(
    r"AccountKey=|SharedAccessKey=|Password=|-----BEGIN|://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE
)
KEY_VAULT_URL_SECRET = re.compile(r"secrets/([A-Za-z0-9-]+)$")


def wired_secret_names(template: dict[str, Tree]) -> set[str]:
    """Names keyvault.bicep accepts and creates (applicationSecretNames)."""
    names = string_list(variables(template["keyvault"]).get("applicationSecretNames"))
    assert names is not None, "keyvault.bicep has no literal applicationSecretNames list"
    return set(names)


def granted_secrets(template: dict[str, Tree]) -> dict[str, set[str]]:
    """App id -> secrets main.bicep lets its identity read (the `access` table)."""
    access = variables(template["main"])["access"]
    grants = {}
    for app, entry in properties(access).items():
        names = string_list(prop(entry, "secrets"))
        assert names is not None, f"{app}: secrets is not a literal list"
        grants[app] = set(names)
    return grants


def referenced_secret_names(tree: Tree) -> set[str]:
    """Secrets named by Key Vault references (`.../secrets/<name>` URLs)."""
    strings = (n for n in walk(tree.root_node) if n.type == "string")
    tails = (fragments[-1] for s in strings if (fragments := string_fragments(s)))
    return {m[1] for tail in tails if (m := KEY_VAULT_URL_SECRET.search(tail))}


def test_key_vault_holds_what_azure_apps_read(template: dict[str, Tree]) -> None:
    """The vault creates exactly the secrets some app may read, all of them names the code uses."""
    granted = set().union(*granted_secrets(template).values())
    assert wired_secret_names(template) == granted
    assert granted <= set(ALL_SECRETS)


def test_secrets_azure_does_without(template: dict[str, Tree]) -> None:
    """Database URLs (Entra sign-in) and sidecar tokens (APP_API_TOKEN) stay local."""
    not_in_azure = set(ALL_SECRETS) - wired_secret_names(template)
    assert not_in_azure, "every local secret is in Key Vault: nothing moved to Entra?"
    assert all(
        name.startswith(("postgresql-connection-string", "app-api-token-")) for name in not_in_azure
    ), not_in_azure


def test_secrets_reach_apps_only_through_their_own_store(trees: dict[Path, Tree]) -> None:
    """No Container Apps Key Vault reference: an app's identity reads its secrets itself."""
    referenced = set().union(*(referenced_secret_names(tree) for tree in trees.values()))
    assert referenced == set()
    assert not any("keyVaultUrl" in text(tree.root_node) for tree in trees.values())


def test_secret_readers_are_scoped_to_single_secrets(template: dict[str, Tree]) -> None:
    """Apps read secret by secret: no Key Vault role of theirs is scoped to the vault."""
    assignments = resources(template["keyvault"], "Microsoft.Authorization/roleAssignments")
    scopes = {a.symbol: text(prop(a.body, "scope") or a.body) for a in assignments}
    assert scopes["readers"] == "secrets[indexOf(applicationSecretNames, grant.secret)]"
    assert {symbol for symbol, scope in scopes.items() if scope == "vault"} == {"officers"}
    secrets = next(
        d
        for d in declarations(template["keyvault"], "resource_declaration")
        if "existing" in {c.type for c in d.children}
        and first_string(d).startswith("Microsoft.KeyVault/vaults/secrets@")
    )
    assert "for secretName in applicationSecretNames" in text(secrets)


def test_key_vault_uses_rbac_and_purge_protection(template: dict[str, Tree]) -> None:
    """Access through Azure RBAC; deleted secrets cannot be purged early."""
    (vault,) = resources(template["keyvault"], "Microsoft.KeyVault/vaults")
    settings = {
        name: text(value)
        for name, value in properties(prop(vault.body, "properties") or vault.body).items()
    }
    assert settings["enableRbacAuthorization"] == "true"
    assert settings["enablePurgeProtection"] == "true"


def insecure_parameters(tree: Tree) -> list[str]:
    """String or object parameters named like secrets that lack @secure()."""
    securable = [p for p in parameters(tree).values() if p.type.rstrip("?") in ("string", "object")]
    return [p.name for p in securable if SENSITIVE_NAME.search(p.name) and not p.secure]


def sensitive_property_with_text(node: Node) -> bool:
    """`password: 'x'`, `sharedKey: 'x'`: a property named like a secret, set to text."""
    key, value = node.named_children[0], node.named_children[-1]
    return bool(SENSITIVE_NAME.search(string_value(key) or text(key)) and string_value(value))


def secrets_array_with_text(node: Node) -> bool:
    """`secrets: [{ name: 'k', value: 'x' }]`: a Container Apps secret given as text."""
    if text(node.named_children[0]) != "secrets":
        return False
    items = [i for i in node.named_children[-1].named_children if i.type == "object"]
    return any(string_value(prop(item, "value")) for item in items)


def credential_in_string(node: Node) -> bool:
    """An account key, a password field, a PEM key or `user:password@` in a string."""
    return any(SECRET_LITERAL.search(fragment) for fragment in string_fragments(node))


def literal_secrets(tree: Tree) -> list[str]:
    """Source of every secret-looking literal in a template."""
    nodes = walk(tree.root_node)
    return [
        text(node)
        for node in nodes
        if (node.type == "object_property" and sensitive_property_with_text(node))
        or (node.type == "object_property" and secrets_array_with_text(node))
        or (node.type == "string" and credential_in_string(node))
    ]


def test_no_template_holds_a_secret_value(trees: dict[Path, Tree]) -> None:
    """Secrets enter as @secure() parameters or Key Vault references, never as text."""
    findings = {
        relative(path): insecure_parameters(tree) + literal_secrets(tree)
        for path, tree in trees.items()
    }
    assert {path: found for path, found in findings.items() if found} == {}


@pytest.mark.parametrize(
    "source",
    [
        "param adminPassword string\n",
        "resource s 'Microsoft.X/y@1' = {\n  properties: {\n"
        "    administratorLoginPassword: 'Hunter2!'\n  }\n}\n",
        "var c = 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=='\n",
        "var u = 'postgresql://admin:hunter2@db:5432/x'\n",
        "var s = {\n  secrets: [\n    {\n      name: 'k'\n      value: 'plain'\n    }\n  ]\n}\n",
    ],
    ids=["insecure param", "password property", "account key", "url credentials", "secrets value"],
)
def test_secret_scan_catches_planted_secrets(source: str) -> None:
    """The scan above would go red on each of these."""
    tree = parse_source(source.encode())
    assert insecure_parameters(tree) + literal_secrets(tree) != []


@pytest.mark.parametrize("path", bicepparam_files(), ids=relative)
def test_secure_parameters_are_read_from_the_environment(
    path: Path, trees: dict[Path, Tree]
) -> None:
    """A parameters file computes secure values (environment, Key Vault), it never spells them."""
    secure = {name for name, p in parameters(trees[INFRA / "main.bicep"]).items() if p.secure}
    assigned = variables(trees[path])
    assert secure, "main.bicep declares no @secure() parameter"
    literal = [name for name in secure & set(assigned) if assigned[name].type != "call_expression"]
    assert literal == []
    assert declarations(trees[path], "parameter_declaration") == []


def local_allowed_secrets() -> dict[str, set[str]]:
    """App id -> secrets its sidecar may read locally (components/config/<app>.yaml)."""
    found = {}
    for path in sorted((REPO / "components/config").glob("*.yaml")):
        (config,) = yaml_documents(path)
        scopes = config["spec"]["secrets"]["scopes"]
        (store,) = [s for s in scopes if s["storeName"] == "secretstore"]
        assert store["defaultAccess"] == "deny", path.name
        found[config["metadata"]["name"]] = set(store["allowedSecrets"])
    return found


def test_each_app_reads_in_azure_what_it_reads_locally(template: dict[str, Tree]) -> None:
    """Key Vault grants mirror the local secret scopes; only database URLs (Entra) drop out."""
    local = local_allowed_secrets()
    assert set(local) == set(dapr_apps())
    database_urls = {name for names in local.values() for name in names}
    database_urls = {n for n in database_urls if n.startswith("postgresql-connection-string")}
    expected = {app: names - database_urls for app, names in local.items()}
    assert granted_secrets(template) == expected
