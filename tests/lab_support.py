"""What integration tests share: the lab's inventory, running modules and playbooks, Samba as the oracle."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
LAB = REPO / "lab" / "lab"
SAMBA_PYTHON = "/usr/bin/python3"  # Debian's samba bindings import only here


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    expected: str


@dataclass(frozen=True)
class LabInfo:
    inventory: Path
    vars: dict[str, Any]
    targets: list[Target]

    @property
    def state(self) -> Path:
        return Path(self.vars["lab_state_dir"])

    @property
    def sam_ldb(self) -> str:
        return str(self.state / "private" / "sam.ldb")

    def connection_args(self) -> dict[str, Any]:
        """The operator connection options every domain module takes."""
        return {
            "domain": self.vars["scanready_domain"],
            "dc": self.vars["scanready_dc"],
            "ca_cert": self.vars["scanready_ldap_ca_cert"],
            "admin_username": self.vars["scanready_admin_username"],
            "admin_password": self.vars["scanready_admin_password"],
        }

    def by_class(self, expected: str) -> list[Target]:
        return [t for t in self.targets if t.expected == expected]


def ansible_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".cache" / "collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    env.update(extra)
    return env


def load_lab(instance: str = "default") -> LabInfo:
    """Bring the lab up if it is not (lab/lab up reuses a running one) and read its inventory."""
    args = [str(LAB), "--instance", instance, "up"]
    subprocess.run(args, check=True, capture_output=True, text=True)
    inventory = REPO / "lab" / "inventory.yml" if instance == "default" else \
        Path(f"/var/tmp/scanready-lab/{instance}/inventory.yml")
    data = yaml.safe_load(inventory.read_text())["all"]
    hosts = data["children"]["scan_targets"]["hosts"]
    targets = [Target(n, h["ansible_host"], h["lab_expected"]) for n, h in hosts.items()]
    return LabInfo(inventory, data["vars"], targets)


@dataclass
class ModuleRun:
    result: dict[str, Any]
    output: str  # everything ansible printed, for secret checks

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))


def run_module(module: str, args: dict[str, Any], *, check: bool = False, diff: bool = False,
               verbosity: int = 0, timeout: float = 300) -> ModuleRun:
    """Run scanready.windows.<module> on localhost through ansible itself; return its result."""
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-m", f"scanready.windows.{module}", "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)
    output = proc.stdout + proc.stderr
    start = proc.stdout.find("{")
    if start < 0:
        raise AssertionError(f"no JSON from ansible:\n{output}")
    data = json.loads(proc.stdout[start:])
    result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return ModuleRun(result, output)


def run_playbook(playbook: str | Path, inventory: Path, *extra: str, timeout: float = 900,
                 env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *extra]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, env=ansible_env(**(env or {})),
                          timeout=timeout, cwd=cwd)


def samba_python(code: str, *args: str) -> Any:
    """Run code under Debian's python3 (where samba's bindings live); it prints one JSON value."""
    proc = subprocess.run([SAMBA_PYTHON, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


# Python for Debian's python3 that opens the DC's database: argv[1] is smb.conf, argv[2] sam.ldb.
SAMDB_OPEN = (
    "import json, sys, ldb\n"
    "from samba.samdb import SamDB\n"
    "from samba.param import LoadParm\n"
    "from samba.auth import system_session\n"
    "lp = LoadParm(); lp.load(sys.argv[1])\n"
    "db = SamDB(url=sys.argv[2], session_info=system_session(), lp=lp)\n"
)


def ldb_search(lab: LabInfo, base: str, expression: str, *attrs: str, scope: str = "sub") -> list[dict[str, list[str]]]:
    """Read the DC's own database (not through our LDAP code) and return the entries found."""
    code = SAMDB_OPEN + (
        "scopes = {'sub': ldb.SCOPE_SUBTREE, 'base': ldb.SCOPE_BASE, 'one': ldb.SCOPE_ONELEVEL}\n"
        "res = db.search(base=sys.argv[3], scope=scopes[sys.argv[4]], expression=sys.argv[5],\n"
        "                attrs=sys.argv[6:] or None)\n"
        "out = []\n"
        "for m in res:\n"
        "    e = {'dn': [str(m.dn)]}\n"
        "    for k in m.keys():\n"
        "        if k != 'dn':\n"
        "            e[k] = [v.decode('utf-8', 'replace') if isinstance(v, bytes) else str(v) for v in m[k]]\n"
        "    out.append(e)\n"
        "print(json.dumps(out))\n"
    )
    return samba_python(code, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb, base, scope, expression, *attrs)


def build_and_install(work: Path) -> Path:
    """Build the collection with ansible-galaxy and install the tarball offline into work/collections,
    away from the checkout's own configuration (which already resolves scanready.windows to the checkout)."""
    cfg = work / "isolated.cfg"
    cfg.write_text("[defaults]\n")
    env = ansible_env(ANSIBLE_CONFIG=str(cfg))
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(REPO)],
                   check=True, capture_output=True, text=True, env=env, cwd=work)
    tarball = next(work.glob("scanready-windows-*.tar.gz"))
    dest = work / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(dest),
                    str(tarball)], check=True, capture_output=True, text=True, env=env, cwd=work)
    if not (dest / "ansible_collections" / "scanready" / "windows" / "plugins" / "modules").is_dir():
        raise AssertionError(f"ansible-galaxy installed nothing into {dest}")
    return dest
