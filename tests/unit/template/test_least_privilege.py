"""Every action a function's policy allows is one its code calls.

The code of a function is its entry module (functions/<dir>), its package under groq_gateway, and
what those import (the import contracts in pyproject.toml: store/, secrets_manager.py,
secret_rotation.py, alert_outbox.py, core/). In the shared modules only the functions the
function's own code can reach by name count: store/teams.py builds a transaction's
``ConditionCheck`` for the admin API, which does not make it something the proxy does.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.unit.template.sam import source_template

ROOT = Path(__file__).resolve().parents[3]
PACKAGE_ROOT = ROOT / "layers" / "gateway"
PACKAGE = PACKAGE_ROOT / "groq_gateway"

FUNCTIONS = {
    "ProxyFunction": ("functions/proxy", "proxy"),
    "AdminFunction": ("functions/admin", "admin"),
    "RotationFunction": ("functions/rotation", "rotation"),
    "UsagePollerFunction": ("functions/usage_poller", "usage_poller"),
    "NotifierFunction": ("functions/notifier", "notifier"),
}

# IAM action -> the code that needs it (a boto3 call, a store call or a transaction item).
USES = {
    "dynamodb:GetItem": r"[\"']get_item[\"']|\.get_item\(",
    "dynamodb:BatchGetItem": r"[\"']batch_get_item[\"']|\.batch_get_item\(",
    "dynamodb:Query": r"[\"']query[\"']|\.query\(",
    "dynamodb:PutItem": r"[\"']put_item[\"']|\.put_item\(|[\"']Put[\"']\s*:",
    "dynamodb:UpdateItem": r"[\"']update_item[\"']|\.update_item\(|[\"']Update[\"']\s*:",
    "dynamodb:DeleteItem": r"[\"']delete_item[\"']|\.delete_item\(|[\"']Delete[\"']\s*:",
    "dynamodb:ConditionCheckItem": r"[\"']ConditionCheck[\"']\s*:",
    # Read directly or through Powertools' SecretsProvider (secrets_manager.read_json_secret).
    "secretsmanager:GetSecretValue": r"get_secret_value\(|SecretsProvider\(",
    "secretsmanager:PutSecretValue": r"put_secret_value\(",
    "secretsmanager:CreateSecret": r"create_secret\(",
    "secretsmanager:DescribeSecret": r"describe_secret\(",
    "secretsmanager:TagResource": r"tag_resource\(|\bTags\s*=",
    "secretsmanager:UpdateSecretVersionStage": r"update_secret_version_stage\(",
    "sns:Publish": r"\bsns\.publish\(",
    # Publishing to the KMS-encrypted AlertsTopic needs the key (SNS encrypts for the publisher).
    "kms:GenerateDataKey*": r"\bsns\.publish\(",
    "kms:Decrypt": r"\bsns\.publish\(",
}


def _module_path(name: str) -> Path | None:
    base = PACKAGE_ROOT.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(path: Path) -> set[str]:
    """groq_gateway modules ``path`` imports (a package's __init__ included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    here = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    package = here[:-1]  # a module's package; for an __init__, the package itself
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    found = set()
    for name in names:
        if not name.startswith("groq_gateway"):
            continue
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            if _module_path(".".join(parts[:end])) is not None:
                found.add(".".join(parts[:end]))
    return found


def closure(entries: list[Path]) -> set[Path]:
    seen: set[Path] = set()
    todo = list(entries)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path) if path.is_relative_to(PACKAGE_ROOT) else _entry_imports(path):
            target = _module_path(module)
            if target is not None:
                todo.append(target)
    return seen


def _entry_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("groq_gateway"):
            found.add(node.module or "")
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if _module_path(m) is not None}


def _identifiers(source: str) -> set[str]:
    """Names and attribute names the code uses (comments and strings do not count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
    return found


def reachable_code(function: str) -> str:
    """The source the function can run: its own code whole, the shared modules' top level, and
    the shared functions and methods its code names (transitively; a named class brings its
    dunder methods, which run without being named)."""
    entry_dir, own = FUNCTIONS[function]
    entries = sorted((ROOT / entry_dir).glob("*.py")) + sorted((PACKAGE / own).rglob("*.py"))
    modules = closure(entries)
    own_files = {
        p for p in modules if not p.is_relative_to(PACKAGE) or p.is_relative_to(PACKAGE / own)
    }
    texts = [p.read_text(encoding="utf-8") for p in sorted(own_files)]
    defs: dict[str, list[str]] = {}
    for path in sorted(modules - own_files):
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            segment = ast.get_source_segment(source, node) or ""
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                defs.setdefault(node.name, []).append(segment)
            elif isinstance(node, ast.ClassDef):
                header: list[str] = []
                for item in node.body:
                    inner = ast.get_source_segment(source, item) or ""
                    method = isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    if not method or item.name.startswith("__"):  # type: ignore[union-attr]
                        header.append(inner)
                    else:
                        defs.setdefault(item.name, []).append(inner)
                defs.setdefault(node.name, []).append("\n".join(header))
            else:
                texts.append(segment)
    code = "\n".join(texts)
    used = set().union(*(_identifiers(text) for text in texts))
    reached: set[str] = set()
    while new := {name for name in defs if name in used and name not in reached}:
        reached |= new
        segments = [segment for name in new for segment in defs[name]]
        code += "\n" + "\n".join(segments)
        used = used.union(*(_identifiers(segment) for segment in segments if segment))
    return code


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return source_template()


def actions(template: dict[str, Any], function: str) -> set[str]:
    found: set[str] = set()
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            action = statement["Action"]
            found.update(action if isinstance(action, list) else [action])
    return found


def test_every_action_has_a_known_use(template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        unknown = actions(template, function) - set(USES)
        assert not unknown, f"{function}: say which code needs {sorted(unknown)} in USES"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_policy_allows_what_the_code_never_calls(
    template: dict[str, Any], function: str
) -> None:
    code = reachable_code(function)
    unused = sorted(a for a in actions(template, function) if not re.search(USES[a], code))
    assert not unused, f"{function} may {unused}, which its code never calls"


def test_the_analysis_sees_real_uses() -> None:
    """Guards the analysis itself: the uses the policies were trimmed around are found."""
    admin = reachable_code("AdminFunction")
    assert re.search(USES["dynamodb:ConditionCheckItem"], admin)
    assert re.search(USES["secretsmanager:CreateSecret"], admin)
    proxy = reachable_code("ProxyFunction")
    assert re.search(USES["dynamodb:DeleteItem"], proxy)
    assert not re.search(USES["dynamodb:ConditionCheckItem"], proxy)
    rotation = reachable_code("RotationFunction")
    assert re.search(USES["secretsmanager:UpdateSecretVersionStage"], rotation)
