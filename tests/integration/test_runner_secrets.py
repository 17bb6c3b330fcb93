"""The AWX path, through ansible-runner (AWX's engine): no password in anything a job writes.

- site.yml runs as AWX runs a job: an inventory holding no secret, the two custom credential types
  of docs/awx/credential_types rendered by AWX's injector rules into an `env/` extra-vars file tagged
  `!unsafe` (AWX's safe_dump) and passed as `-e @file`, ansible-playbook at `-vvvv` with runner's
  event callback. Every file under the job's private data directory (artifacts, job events, fact
  cache, stdout, the reports) is then searched for each lab password: zero hits.
- verify.yml runs as two slices of a sliced job (AWX's slicing of the inventory, docs/awx.md's report
  directory, the scanner credential alone): each slice verifies its own hosts into its own report.
- Without the lab: both credential types validate against AWX's schema and inject what the roles'
  argument specs take (secrets only into no_log options), and `ansible-builder create` gives a
  context whose collection installs and introspects to the collection's requirements.
"""
from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import jsonschema
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment
from packaging.specifiers import SpecifierSet

from tests.lab_support import BIN, REPO, LabInfo, ansible_env, load_lab

INSTANCE = "runner"
CREDENTIAL_TYPES = REPO / "docs" / "awx" / "credential_types"
# The variables a credential brings; the inventory AWX holds carries none of them.
CREDENTIAL_VARS = ("scanready_admin_username", "scanready_admin_password",
                   "scanready_account_name", "scanready_account_password")

# AWX's validation of a custom credential type's inputs (awx/main/fields.py, CredentialTypeInputField),
# the strict form older controllers enforce (no `default`).
AWX_INPUTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required": {"type": "array", "items": {"type": "string"}},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "label"],
                "properties": {
                    "type": {"enum": ["string", "boolean"]},
                    "format": {"enum": ["ssh_private_key", "url"]},
                    "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
                    "id": {"type": "string", "pattern": "^[a-zA-Z_]+[a-zA-Z0-9_]*$"},
                    "label": {"type": "string"},
                    "help_text": {"type": "string"},
                    "multiline": {"type": "boolean"},
                    "secret": {"type": "boolean"},
                    "ask_at_runtime": {"type": "boolean"},
                },
            },
        },
    },
}
AWX_INJECTORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "file": {"type": "object", "patternProperties": {r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$": {"type": "string"}},
                 "additionalProperties": False},
        "env": {"type": "object", "patternProperties": {"^[a-zA-Z_]+[a-zA-Z0-9_]*$": {"type": "string"}},
                "additionalProperties": False},
        "extra_vars": {"type": "object", "patternProperties": {"^[a-zA-Z_]+[a-zA-Z0-9_]*$": {"type": "string"}},
                       "additionalProperties": False},
    },
}


def credential_types() -> dict[str, dict[str, Any]]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(CREDENTIAL_TYPES.glob("*.yml"))}


def role_options() -> dict[str, dict[str, Any]]:
    """Every option of every role's argument specs, by variable name."""
    options: dict[str, dict[str, Any]] = {}
    for spec_file in (REPO / "roles").glob("*/meta/argument_specs.yml"):
        for entry_point in (yaml.safe_load(spec_file.read_text())["argument_specs"] or {}).values():
            options.update(entry_point.get("options") or {})
    return options


def render_injected_extra_vars(credential_type: dict[str, Any], inputs: dict[str, str]) -> dict[str, str]:
    """What AWX's CredentialType.inject_credential renders: each extra_vars template, sandboxed, over the inputs."""
    env = ImmutableSandboxedEnvironment()
    return {name: env.from_string(template).render(**inputs)
            for name, template in credential_type["injectors"]["extra_vars"].items()}


class _Unsafe(str):
    pass


class _AwxDumper(yaml.SafeDumper):
    pass


_AwxDumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def awx_safe_dump(data: dict[str, str]) -> str:
    """AWX writes injected extra vars with every string tagged !unsafe, so a password is never templated."""
    return str(yaml.dump({k: _Unsafe(v) for k, v in data.items()}, Dumper=_AwxDumper, default_flow_style=False))


def secret_forms(password: str) -> list[bytes]:
    """The password as it could land in a file: text, JSON-escaped, UTF-16LE (unicodePwd), base64."""
    forms = {password.encode(), json.dumps(password)[1:-1].encode(), password.encode("utf-16-le"),
             base64.b64encode(password.encode()), base64.b64encode(f'"{password}"'.encode("utf-16-le"))}
    return sorted(forms)


def lab_passwords(lab: LabInfo) -> dict[str, str]:
    names = ("scanready_admin_password", "scanready_account_password", "lab_plain_password")
    return {name: lab.vars[name] for name in names}


def files_holding(root: Path, secrets: dict[str, str], skip: set[Path]) -> list[str]:
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skip):
        data = path.read_bytes()
        hits += [f"{path.relative_to(root)}: {name}" for name, pw in secrets.items()
                 if any(form in data for form in secret_forms(pw))]
    return hits


# --- what AWX needs, checked without a lab ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(credential_types()))
def test_credential_type_is_valid_for_awx_and_hides_its_secrets(name: str) -> None:
    credential_type = credential_types()[name]
    assert credential_type["kind"] == "cloud"
    jsonschema.validate(credential_type["inputs"], AWX_INPUTS_SCHEMA)
    jsonschema.validate(credential_type["injectors"], AWX_INJECTORS_SCHEMA)
    fields = {f["id"]: f for f in credential_type["inputs"]["fields"]}
    assert set(credential_type["inputs"]["required"]) <= set(fields)
    for field_id, field in fields.items():
        assert field.get("secret", False) == field_id.endswith("password"), field_id
    options = role_options()
    for var, template in credential_type["injectors"]["extra_vars"].items():
        assert var.startswith("scanready_") and var in CREDENTIAL_VARS, var
        assert var in options, f"{var} is injected but no role's argument_specs takes it"
        referenced = re.findall(r"{{\s*(\w+)\s*}}", template)
        if any(fields[f].get("secret") for f in referenced):
            assert options[var].get("no_log"), f"{var} carries a secret but its argument spec lacks no_log"


def test_credential_types_together_inject_every_credential_variable() -> None:
    injected = [v for ct in credential_types().values() for v in ct["injectors"]["extra_vars"]]
    assert sorted(injected) == sorted(CREDENTIAL_VARS)


def test_execution_environment_context_installs_the_collection_with_its_requirements(tmp_path: Path) -> None:
    """`ansible-builder create` succeeds, and the context's collection installs and introspects to our deps."""
    context = tmp_path / "context"
    subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(REPO / "execution-environment.yml"),
                    "-c", str(context)], check=True, capture_output=True, text=True, cwd=REPO)
    containerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert "ansible-galaxy collection install" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    source = context / "_build" / requirements["collections"][0]["name"].removeprefix("/build/")
    installed = tmp_path / "collections"
    # --no-deps: offline here; the image build fetches ansible.windows from galaxy.yml's dependencies.
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(installed),
                    str(source)], check=True, capture_output=True, text=True,
                   env=ansible_env(ANSIBLE_COLLECTIONS_PATH=str(installed)))
    collection = installed / "ansible_collections" / "scanready" / "windows"
    assert (collection / "playbooks" / "site.yml").exists()
    proc = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                           str(installed)], check=True, capture_output=True, text=True)
    for needed in ("impacket", "ldap3", "pywinrm", "krb5-workstation [platform:rpm]"):
        assert needed in proc.stdout, f"{needed} missing from the EE's introspected requirements:\n{proc.stdout}"
    # The EE's own additions for the WMI stage: WinRM and PSRP with Kerberos, and what builds their bindings.
    user_pip = (context / "_build" / "requirements.txt").read_text()
    assert "pywinrm[kerberos]" in user_pip and "pypsrp[kerberos]" in user_pip
    bindep_lines = (proc.stdout + (context / "_build" / "bindep.txt").read_text()).splitlines()
    compile_profile = [line.strip("-' ") for line in bindep_lines if "compile]" in line]
    for needed in ("gcc", "krb5-devel", "python3.12-devel"):
        assert any(line.startswith(needed + " ") for line in compile_profile), f"{needed} not in the compile profile"


def test_execution_environment_python_runs_the_ansible_core_it_installs() -> None:
    """The base image's interpreter is one the newest allowed ansible-core runs on as controller
    (RHEL 9's own python3, 3.9, is not), and the package manager is the image's."""
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    interpreter = definition["dependencies"]["python_interpreter"]
    version = re.fullmatch(r"/usr/bin/python(3\.\d+)", interpreter["python_path"])
    assert version and interpreter["package_system"] == f"python{version[1]}"
    requires = SpecifierSet(importlib.metadata.metadata("ansible-core")["Requires-Python"])
    assert version[1] + ".0" in requires, f"ansible-core {importlib.metadata.version('ansible-core')} needs {requires}"
    assert importlib.metadata.version("ansible-core") in SpecifierSet(
        definition["dependencies"]["ansible_core"]["package_pip"].removeprefix("ansible-core"))
    image = definition["images"]["base_image"]["name"]
    assert "fedora:41" not in image and "ubi-minimal" in image
    assert definition["options"]["package_manager_path"] == "/usr/bin/microdnf"


# --- jobs through ansible-runner against the lab, set up as AWX sets them up -----------------------

@dataclass
class AwxJob:
    private: Path  # the job's private data directory: everything the job wrote is under it
    credential_file: Path  # the injected extra vars: the one file that must hold the passwords
    reports: Path
    run: Any  # ansible_runner.Runner

    @property
    def stdout(self) -> str:
        return (Path(self.run.config.artifact_dir) / "stdout").read_text(errors="replace")


def awx_inventory(lab: LabInfo, slice_number: int = 1, slice_count: int = 1) -> dict[str, Any]:
    """The inventory as AWX hands it to a job: no credential in it, and for a slice only its share
    of the hosts (Inventory.get_script_data: hosts ordered by name, every slice_count-th from the
    slice's offset; groups keep only those hosts)."""
    inventory: dict[str, Any] = yaml.safe_load(lab.inventory.read_text())
    for var in (*CREDENTIAL_VARS, "lab_plain_password"):
        inventory["all"]["vars"].pop(var, None)
    hosts = sorted({h for group in inventory["all"]["children"].values() for h in group["hosts"]})
    kept = set(hosts[slice_number - 1::slice_count])
    for group in inventory["all"]["children"].values():
        group["hosts"] = {h: v for h, v in group["hosts"].items() if h in kept}
    return inventory


def run_like_awx(private: Path, lab: LabInfo, playbook: str, inventory: dict[str, Any],
                 credentials: list[str], extravars: dict[str, Any]) -> AwxJob:
    """One job: the inventory without secrets, the credential types' injectors rendered into an
    `env/` file tagged !unsafe and passed as `-e @file`, the job template's extra vars in
    env/extravars, ansible-playbook at -vvvv with runner's event callback."""
    (private / "env").mkdir(parents=True)
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    values = {"admin_username": lab.vars["scanready_admin_username"],
              "admin_password": lab.vars["scanready_admin_password"],
              "account_name": lab.vars["scanready_account_name"],
              "account_password": lab.vars["scanready_account_password"]}
    injected: dict[str, str] = {}
    for name in credentials:
        credential_type = credential_types()[name]
        fields = [f["id"] for f in credential_type["inputs"]["fields"]]
        injected |= render_injected_extra_vars(credential_type, {f: values[f] for f in fields})
    credential_file = private / "env" / "tmp_credential_extravars"
    credential_file.write_text(awx_safe_dump(injected))
    credential_file.chmod(0o400)
    run = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(REPO),
        playbook=playbook,
        inventory=str(private / "inventory" / "hosts.yml"),
        extravars=extravars,
        cmdline=f"-e @{credential_file}",
        verbosity=4,
        envvars={"PATH": f"{BIN}:{os.environ.get('PATH', '')}",
                 "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                 "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".cache" / "collections")},
        quiet=True,
        timeout=900,
    )
    reports = Path(str(extravars["scanready_report_dir"]))
    return AwxJob(private, credential_file, reports, run)


@pytest.fixture(scope="module")
def lab() -> LabInfo:
    return load_lab(INSTANCE)


@pytest.fixture(scope="module")
def site_job(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> AwxJob:
    private = tmp_path_factory.mktemp("awx-site-job")
    # The lab keeps not-ready targets on purpose: reported, not failed.
    extravars = {"scanready_report_dir": str(private / "reports"), "scanready_verify_fail_on_not_ready": False}
    return run_like_awx(private, lab, "playbooks/site.yml", awx_inventory(lab),
                        ["scanready_operator", "scanready_scanner"], extravars)


@pytest.mark.lab
def test_site_playbook_succeeds_under_ansible_runner(site_job: AwxJob) -> None:
    assert site_job.run.status == "successful" and site_job.run.rc == 0, site_job.stdout[-4000:]
    assert "ESTABLISH LOCAL CONNECTION" in site_job.stdout, "the run was not at -vvvv"
    assert len(list((Path(site_job.run.config.artifact_dir) / "job_events").glob("*.json"))) > 20
    for name in ("readiness.json", "readiness.html", "junit.xml", "ticket.md"):
        assert (site_job.reports / name).is_file(), name


@pytest.mark.lab
def test_no_password_in_any_artifact_or_report(lab: LabInfo, site_job: AwxJob) -> None:
    secrets = lab_passwords(lab)
    cred = site_job.credential_file.relative_to(site_job.private)
    # The credential file is the one input that must hold them (AWX deletes it with the job): the
    # search finds them there, and nowhere else the job wrote (the reports are under private too).
    assert files_holding(site_job.private, secrets, set()) == [f"{cred}: scanready_admin_password",
                                                               f"{cred}: scanready_account_password"]
    assert site_job.private in site_job.reports.parents
    assert len([p for p in site_job.private.rglob("*") if p.is_file()]) > 20
    assert files_holding(site_job.private, secrets, {site_job.credential_file}) == []


@pytest.mark.lab
def test_each_slice_verifies_its_own_hosts_into_its_own_report(
        lab: LabInfo, site_job: AwxJob, tmp_path: Path) -> None:
    """verify.yml sliced in two as AWX does it, with docs/awx.md's report dir and the scanner credential only."""
    assert site_job.run.rc == 0  # the account exists
    report_dir = str(tmp_path / "reports" / "{{ awx_workflow_job_id | default(awx_job_id) }}" / "job-{{ awx_job_id }}")
    seen: dict[str, bool] = {}
    for number, job_id in ((1, 101), (2, 102)):
        inventory = awx_inventory(lab, number, 2)
        extravars = {"scanready_report_dir": report_dir, "scanready_verify_fail_on_not_ready": False,
                     "awx_job_id": job_id, "awx_workflow_job_id": 100}
        job = run_like_awx(tmp_path / f"slice{number}", lab, "playbooks/verify.yml", inventory,
                           ["scanready_scanner"], extravars)
        assert job.run.rc == 0, job.stdout[-4000:]
        report = json.loads((tmp_path / "reports" / "100" / f"job-{job_id}" / "readiness.json").read_text())
        slice_targets = sorted(inventory["all"]["children"]["scan_targets"]["hosts"])
        assert sorted(h["name"] for h in report["hosts"]) == slice_targets
        seen |= {h["name"]: h["ready"] for h in report["hosts"]}
        assert files_holding(job.private, lab_passwords(lab), {job.credential_file}) == []
    assert sorted(seen) == sorted(t.name for t in lab.targets)
