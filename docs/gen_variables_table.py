"""Print the README's variables table, built from every role's meta/argument_specs.yml.

The argument specs are what Ansible validates at run time, so a table built from them cannot
drift from what the roles accept. A variable several roles take (the domain connection) is one
row naming every role. `--check FILE` exits 1 when FILE does not contain the table verbatim.

Usage: .venv/bin/python docs/gen_variables_table.py [--roles DIR] [--check README.md]
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
# The order the stages run in site.yml; a role not listed here sorts after them by name.
STAGE_ORDER = ("scanner_account", "scan_policy", "wmi_privacy", "verify")
# Ansible's documentation markup, C(code) O(option=value) V(value) M(module) ..., with `\)` escaping a paren.
MARKUP = re.compile(r"\b([BCEILMOPUV])\(((?:\\.|[^\\)])*)\)")


@dataclass
class Variable:
    name: str
    spec: dict[str, Any]
    roles: list[str] = field(default_factory=list)
    required_by: list[str] = field(default_factory=list)
    secret: bool = False


def markdown(text: str) -> str:
    """Ansible's markup as Markdown: code-like markup in backticks, links as links."""
    def convert(match: re.Match[str]) -> str:
        kind, body = match.group(1), re.sub(r"\\([\\)])", r"\1", match.group(2))
        if kind == "B":
            return f"**{body}**"
        if kind == "I":
            return f"*{body}*"
        if kind == "U":
            return body
        if kind == "L":
            label, url = body.rsplit(",", 1)
            return f"[{label.strip()}]({url.strip()})"
        return f"`{body.split('#')[0] if kind == 'P' else body}`"
    return MARKUP.sub(convert, text)


def cell(text: str) -> str:
    """One Markdown table cell: a single line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def describe(spec: dict[str, Any]) -> str:
    """The first paragraph of the description, plus the allowed values when they are fixed."""
    description = spec.get("description", "")
    text = markdown(description[0] if isinstance(description, list) and description else str(description or ""))
    if spec.get("choices"):
        text += " One of: " + ", ".join(f"`{c}`" for c in spec["choices"]) + "."
    return text


def type_of(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type", "str"))
    if kind == "list" and spec.get("elements"):
        kind = f"list of {spec['elements']}"
    return kind


def default_of(variable: Variable) -> str:
    if variable.required_by and variable.required_by == variable.roles:
        return "required"
    if variable.required_by:
        return "required by " + ", ".join(variable.required_by)
    if "default" not in variable.spec or variable.spec["default"] is None:
        return "-"
    value = variable.spec["default"]
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict)) or value == "":
        return "`" + str(yaml.safe_dump(value, default_flow_style=True)).strip().removesuffix("...").strip() + "`"
    return f"`{value}`"


def role_order(role: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(role) if role in STAGE_ORDER else len(STAGE_ORDER), role)


def collect(roles_dir: Path) -> list[Variable]:
    """Every option of every entry point of every role, merged by variable name.

    A role is named with its entry point when that is not `main` (`verify:report`).
    """
    found: dict[str, Variable] = {}
    spec_files = sorted(roles_dir.glob("*/meta/argument_specs.yml"), key=lambda p: role_order(p.parts[-3]))
    for spec_file in spec_files:
        role = spec_file.parts[-3]
        entry_points = (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs") or {}
        for entry_name, entry_point in sorted(entry_points.items(), key=lambda kv: kv[0] != "main"):
            for name, spec in (entry_point.get("options") or {}).items():
                spec = spec or {}
                variable = found.setdefault(name, Variable(name, spec))
                if any(r.split(":")[0] == role for r in variable.roles):
                    continue
                where = role if entry_name == "main" else f"{role}:{entry_name}"
                variable.roles.append(where)
                variable.secret = variable.secret or bool(spec.get("no_log"))
                if spec.get("required"):
                    variable.required_by.append(where)
    return sorted(found.values(), key=lambda v: (role_order(v.roles[0].split(":")[0]), v.roles[0], v.name))


def render(variables: list[Variable]) -> str:
    lines = [
        "| Variable | Type | Default | Secret | Roles | Description |",
        "|---|---|---|---|---|---|",
    ]
    for v in variables:
        lines.append(
            f"| `{v.name}` | {cell(type_of(v.spec))} | {cell(default_of(v))} | {'yes' if v.secret else ''} "
            f"| {', '.join(v.roles)} | {cell(describe(v.spec))} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=Path, default=REPO / "roles", help="the roles directory")
    parser.add_argument("--check", type=Path, help="fail unless this file contains the table verbatim")
    args = parser.parse_args(argv)
    variables = collect(args.roles)
    if not variables:
        print(f"gen_variables_table: no meta/argument_specs.yml under {args.roles}", file=sys.stderr)
        return 1
    table = render(variables)
    if args.check:
        if table not in args.check.read_text():
            print(f"gen_variables_table: {args.check} does not contain the current variables table; "
                  f"regenerate it with {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
