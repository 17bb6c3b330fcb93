"""docs/install.md as written: its marked command blocks, run in order in one shell, in a fresh folder with a
fresh HOME and the system's PATH, build the collection, install it with its requirements (into a new venv, or
with pipx: each way of the page once) and converge the lab domain: `--check --diff` first (changes nothing,
leaves verification to the real run), then the real run. The inventory is the lab's, with an account and a
GPO of this test's own, rolled back after."""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.lab_support import REPO, LabInfo, ldb_search, run_playbook

pytestmark = pytest.mark.lab

PAGE = REPO / "docs" / "install.md"
MARK = re.compile(r"^<!-- install-test(?:: (\w+))? -->\n```sh\n(.*?)^```$", re.M | re.S)
WAYS = ("venv", "pipx")
ACCOUNT = "install_scanner"
GPO = "Authenticated scanning (install page test)"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UF_ACCOUNTDISABLE = 0x2


def marked_blocks(text: str, way: str) -> list[str]:
    """The shell blocks the page marks for every way of installing, and for this one, in page order."""
    return [block for only, block in MARK.findall(text) if only in ("", way)]


class Terminal:
    """One bash session, as the user's terminal: each block runs in it after the one before (so `. activate`
    carries over), with stdin closed, and stops the session at the first failing command."""

    END = "__install_page_block_done__"

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self._bash = subprocess.Popen(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail"], cwd=cwd, env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, block: str, timeout: float = 1200) -> str:
        assert self._bash.stdin and self._bash.stdout
        self._bash.stdin.write(f"{{\n{block}\n}} </dev/null\necho {self.END}\n".encode())
        self._bash.stdin.flush()
        out, deadline = b"", time.monotonic() + timeout
        while self.END.encode() not in out:
            ready = select.select([self._bash.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]
            chunk = os.read(self._bash.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                why = "timed out" if not ready else f"exited {self._bash.wait()}"
                raise AssertionError(f"{why} in:\n{block}\n--- output:\n{out.decode(errors='replace')[-6000:]}")
            out += chunk
        return out.decode(errors="replace").replace(self.END + "\n", "")

    def close(self) -> None:
        if self._bash.stdin:
            self._bash.stdin.close()
        try:
            self._bash.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._bash.kill()


def user_env(home: Path, tmp_path: Path) -> dict[str, str]:
    """A new user's shell: fresh HOME, the system PATH (the distribution's python3), none of the checkout's
    ANSIBLE_* settings; this machine's pip configuration and cache kept, so nothing is downloaded anew."""
    real_home = Path.home()
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    env.update(HOME=str(home), PATH=SYSTEM_PATH, LANG="C.UTF-8", TERM="dumb", ANSIBLE_NOCOLOR="1",
               XDG_CONFIG_HOME=str(real_home / ".config"), XDG_CACHE_HOME=str(real_home / ".cache"),
               # private lockout records (tests/integration/conftest.py)
               XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", str(tmp_path)))
    return env


def write_inventory(lab: LabInfo, folder: Path) -> Path:
    """The lab's inventory, with this test's account and GPO, and the lab's deliberately broken targets reported
    rather than failing the run."""
    data = yaml.safe_load(lab.inventory.read_text())
    data["all"]["vars"].update(scanready_account_name=ACCOUNT, scanready_gpo_name=GPO,
                               scanready_verify_fail_on_not_ready=False)
    folder.mkdir(parents=True)
    (folder / "hosts.yml").write_text(yaml.safe_dump(data))
    return folder


def account(lab: LabInfo) -> list[dict[str, list[str]]]:
    return ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={ACCOUNT})", "userAccountControl")


def gpos(lab: LabInfo) -> list[dict[str, list[str]]]:
    name = GPO.replace("(", "\\28").replace(")", "\\29")
    return ldb_search(lab, lab.vars["lab_base_dn"], f"(&(objectClass=groupPolicyContainer)(displayName={name}))", "cn")


@pytest.fixture
def inventory(lab: LabInfo, tmp_path: Path) -> Iterator[Path]:
    """This test's inventory; its account and GPO removed afterwards, whatever happened."""
    folder = write_inventory(lab, tmp_path / "work" / "inventory")
    try:
        yield folder
    finally:
        extra = {"scanready_rollback_remove_account": True, "scanready_report_dir": str(tmp_path / "rollback")}
        proc = run_playbook(REPO / "playbooks" / "rollback.yml", folder, "--tags", "domain", "-e", json.dumps(extra))
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        assert account(lab) == [] and gpos(lab) == []


def test_page_marks_each_way_and_names_the_tarball_galaxy_yml_builds() -> None:
    text = PAGE.read_text()
    assert {only for only, _block in MARK.findall(text)} == {"", *WAYS}
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    for way in WAYS:
        blocks = marked_blocks(text, way)
        assert len(blocks) >= 5
        assert all("scanready-windows-" not in b or f"scanready-windows-{version}.tar.gz" in b for b in blocks)


@pytest.mark.parametrize("way", WAYS)
def test_install_page_commands_converge_a_lab_domain(way: str, lab: LabInfo, inventory: Path, tmp_path: Path) -> None:
    work, home = inventory.parent, tmp_path / "home"
    home.mkdir()
    (work / "scanready.windows").symlink_to(REPO)  # the source checkout, next to the folder the user works in
    blocks = marked_blocks(PAGE.read_text(), way)
    check = next(i for i, b in enumerate(blocks) if "--check" in b)
    assert "scanready.windows.site" in blocks[check + 1] and "--check" not in blocks[check + 1]
    terminal = Terminal(work, user_env(home, tmp_path))
    try:
        # As root on a machine without sudo, `sudo VAR=value command` is `env VAR=value command`.
        terminal.run('command -v sudo >/dev/null || sudo() { env "$@"; }')
        outputs = [terminal.run(block) for block in blocks[:check]]
        assert (home / ".ansible" / "collections" / "ansible_collections" / "scanready" / "windows").is_dir()
        assert re.search(r"Successfully installed .*ldap3", "".join(outputs))

        out = terminal.run(blocks[check])
        assert "Verification runs after the real run" in out, out[-3000:]
        assert account(lab) == [] and gpos(lab) == []

        out += terminal.run(blocks[check + 1])
        for rest in blocks[check + 2:]:
            out += terminal.run(rest)
    finally:
        terminal.close()
    [user] = account(lab)
    assert not int(user["userAccountControl"][0]) & UF_ACCOUNTDISABLE
    assert len(gpos(lab)) == 1
    report = json.loads((work / "reports" / "readiness.json").read_text())
    assert sorted(h["name"] for h in report["hosts"]) == sorted(t.name for t in lab.targets)
    for secret in (lab.vars["scanready_admin_password"], lab.vars["scanready_account_password"]):
        assert secret not in out
