"""Key Vault carries every secret the code reads, and no template carries a secret value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tree_sitter import Node, Tree

from dursor_contracts.secret_names import ALL_SECRETS

from .bicep_tree import (
    declarations,
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
from .conftest import INFRA, bicepparam_files, relative

SENSITIVE_NAME = re.compile(
    r"(password|secret|token|connectionstring|privatekey|accesskey|accountkey|sharedkey|"
    r"primarykey|secondarykey|apikey)s?$",
    re.IGNORECASE,
)
SECRET_LITERAL = re.compile(
    r"AccountKey=|SharedAccessKey=|Password=|-----BEGIN|://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE
)
KEY_VAULT_URL_SECRET = re.compile(r"secrets/([A-Za-z0-9-]+)$")
KEY_VAULT_SECRET_CALL = re.compile(r"\bkeyVaultSecret\([^,()]+,\s*'([A-Za-z0-9-]+)'")


def wired_secret_names(template: dict[str, Tree]) -> set[str]:
    """Names keyvault.bicep accepts and creates (applicationSecretNames)."""
    names = string_list(variables(template["keyvault"]).get("applicationSecretNames"))
    assert names is not None, "keyvault.bicep has no literal applicationSecretNames list"
    return set(names)


def infra_written_secret_names(trees: dict[Path, Tree]) -> set[str]:
    """Key Vault secrets a template writes under a literal name (e.g. redis-password)."""
    secrets = (
        r for tree in trees.values() for r in resources(tree, "Microsoft.KeyVault/vaults/secrets")
    )
    return {name for r in secrets if (name := string_value(prop(r.body, "name")))}


def dapr_secret_refs(tree: Tree) -> set[str]:
    """`secretRef`s of Dapr components that resolve through a secret store (Key Vault)."""
    components = resources(tree, "Microsoft.App/managedEnvironments/daprComponents")
    through_store = [c for c in components if prop(c.body, "properties", "secretStoreComponent")]
    if not through_store:
        return set()
    props = (n for n in walk(tree.root_node) if n.type == "object_property")
    refs = (p.named_children[-1] for p in props if text(p.named_children[0]) == "secretRef")
    return {value for ref in refs if (value := string_value(ref))}


def referenced_secret_names(tree: Tree) -> set[str]:
    """Secrets named by Key Vault references: `.../secrets/<name>` URLs and keyVaultSecret()."""
    strings = (n for n in walk(tree.root_node) if n.type == "string")
    tails = (fragments[-1] for s in strings if (fragments := string_fragments(s)))
    from_urls = {m[1] for tail in tails if (m := KEY_VAULT_URL_SECRET.search(tail))}
    return from_urls | set(KEY_VAULT_SECRET_CALL.findall(text(tree.root_node)))


def test_key_vault_wires_every_secret_the_code_reads(template: dict[str, Tree]) -> None:
    """Each name of dursor_contracts.secret_names.ALL_SECRETS is a Key Vault secret."""
    assert set(ALL_SECRETS) - wired_secret_names(template) == set()


def test_key_vault_references_name_known_secrets(
    trees: dict[Path, Tree], template: dict[str, Tree]
) -> None:
    """Container Apps and Dapr components only reference secrets that get created."""
    referenced = set().union(*(referenced_secret_names(tree) for tree in trees.values()))
    assert {"postgresql-connection-string", "redis-password"} <= referenced
    assert "redis-password" in dapr_secret_refs(template["dapr-components"])
    referenced |= dapr_secret_refs(template["dapr-components"])
    known = wired_secret_names(template) | infra_written_secret_names(trees)
    assert referenced - known == set()


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
