"""The collection as a user gets it: built with ansible-galaxy, no lab state or secrets, installable offline."""
from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.lab_support import BIN, REPO, ansible_env, build_and_install

# Read from the lab itself, so this file holds none of them.
LAB_PASSWORDS = [pw.encode() for pw in
                 re.findall(r'^\w+_PASSWORD = "([^"]+)"', (REPO / "lab" / "scanlab" / "credentials.py").read_text(),
                            re.M)]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)],
                   check=True, capture_output=True, text=True, env=ansible_env())
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    path = out / f"scanready-windows-{version}.tar.gz"
    assert path.exists()
    return path


def test_tarball_has_no_lab_state_venv_or_reports(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    forbidden = ("lab/", ".venv", "reports/", ".cache/", "inventory.yml", ".git/", "__pycache__", "bench/results")
    assert not [n for n in names if any(f in n for f in forbidden)]
    assert "plugins/modules" in names or any(n.startswith("plugins/") for n in names)


def test_tarball_carries_the_license_and_galaxy_yml_only_true_fields(tarball: Path) -> None:
    """The file headers say "see COPYING": it is in the tarball, the GPL-3.0 galaxy.yml declares; no placeholder URL."""
    with tarfile.open(tarball) as tar:
        copying = tar.extractfile("COPYING").read().decode()  # type: ignore[union-attr]
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    assert "GNU GENERAL PUBLIC LICENSE" in copying and "Version 3, 29 June 2007" in copying
    assert manifest["collection_info"]["license"] == ["GPL-3.0-or-later"]
    galaxy = (REPO / "galaxy.yml").read_text()
    assert not re.search(r"example\.(invalid|com|org)", galaxy)
    for field in ("repository", "documentation", "homepage", "issues"):
        url = manifest["collection_info"].get(field)
        assert url is None or not re.search(r"example\.", url), field


def test_tarball_ships_the_report_schema_and_the_template_copies(tarball: Path) -> None:
    """What the README points users to: readiness.json's schema, and the templates to copy and edit."""
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    shipped = {"docs/readiness.schema.json", "docs/report-templates/README.md"} | {
        f"docs/report-templates/{p.name}" for p in (REPO / "docs" / "report-templates").glob("*.j2")}
    assert len(shipped) == 5 and shipped <= names, shipped - names


def test_tarball_holds_no_lab_password(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        contents = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert len(LAB_PASSWORDS) >= 3
    assert [name for name, data in contents.items() if any(pw in data for pw in LAB_PASSWORDS)] == []


def test_installs_offline_and_every_module_documents_itself(tmp_path: Path) -> None:
    dest = build_and_install(tmp_path)
    installed = dest / "ansible_collections" / "scanready" / "windows"
    modules = sorted(p.stem for p in (installed / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    expected = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    assert modules == expected and len(modules) >= 6
    for playbook in ("site", "verify", "rollback", "scan_window"):
        assert (installed / "playbooks" / f"{playbook}.yml").is_file()
    cfg = tmp_path / "isolated.cfg"
    env = ansible_env(ANSIBLE_CONFIG=str(cfg), ANSIBLE_COLLECTIONS_PATH=str(dest))
    for module in modules:
        proc = subprocess.run([str(BIN / "ansible-doc"), f"scanready.windows.{module}"],
                              check=False, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        assert "EXAMPLES" in proc.stdout and "RETURN VALUES" in proc.stdout, module
