"""The README's variables table is the one the roles' argument specs produce, and the specs tell the defaults true."""
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parents[1] for p in (REPO / "roles").glob("*/meta/argument_specs.yml"))


def documented_defaults(role: Path) -> dict[str, Any]:
    """Each option's documented default (None when it has none), over every entry point of the role."""
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return {name: (option or {}).get("default") for entry in specs.values()
            for name, option in (entry.get("options") or {}).items()}


def test_readme_variables_table_matches_the_argument_specs() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "docs" / "gen_variables_table.py"), "--check",
                           str(REPO / "README.md")], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_role_default_is_the_one_its_argument_spec_documents() -> None:
    for role in ROLES:
        documented = documented_defaults(role)
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
        for name, value in defaults.items():
            assert name in documented, f"{role.name}: {name} has a default but no argument spec"
            assert documented[name] == value, (
                f"{role.name}: {name} defaults to {value!r}, documented {documented[name]!r}")


def test_a_variable_several_roles_take_has_one_default() -> None:
    """scanready_account_name names the same account in scanner_account and verify."""
    seen: dict[str, tuple[str, Any]] = {}
    for role in ROLES:
        for name, default in documented_defaults(role).items():
            first_role, first_default = seen.setdefault(name, (role.name, default))
            assert default == first_default, (
                f"{name}: {first_role} documents {first_default!r} as its default, {role.name} {default!r}")
