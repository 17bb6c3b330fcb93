#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: readiness_report
version_added: 0.1.0
short_description: Write the scan readiness reports (JSON, JUnit XML, HTML, provider ticket)
description:
  - "Renders the result of M(scanready.windows.scan_readiness) into four files in O(dest) on the
    host the module runs on (the controller, with C(delegate_to: localhost))."
  - C(readiness.json) for machines (the hosts as M(scanready.windows.scan_readiness) returns them,
    with a class per host and summary counts; C(docs/sample-report/) in the collection has one of each file),
    C(junit.xml) for CI (one testcase per target and check), C(readiness.html) for people (a
    self-contained page without scripts or external assets), and C(ticket.md), the text the scanning
    provider asks for (scan account, domain, the IP addresses of the ready targets).
  - The page and the ticket are Jinja2 templates, C(readiness.html.j2) (with its style sheet
    C(readiness.css.j2)) and C(ticket.md.j2). A file of the same name in O(templates_dir) replaces the
    shipped one; C(docs/report-templates/) in the collection has each shipped template to copy and edit.
    The page's template is autoescaped, so every value from the result is escaped where it is printed.
  - The reports are a pure function of O(result) and O(generated_at); run times in the result are
    left out, so a re-run over an unchanged fleet changes no file and reports C(changed=false).
  - The module takes no password. Reports are built from the result's documented fields only, and
    the free-text fields (C(detail), C(fix)) are searched for password-like values
    (C(password=...), C(secret=...)) and hash-like hex strings, which are masked.
author:
  - scanready maintainers (@scanready)
requirements:
  - jinja2 (installed with ansible-core, so present on the controller)
extends_documentation_fragment:
  - scanready.windows.attributes
options:
  result:
    description:
      - The registered result of M(scanready.windows.scan_readiness) (C(domain), C(account) and
        C(hosts), each host with C(name), C(address), C(ready), C(auth_scheme) and C(checks)).
      - Other keys (C(summary), C(elapsed_s), C(duration_s), Ansible's own) are ignored; the summary
        is counted again from the hosts.
    type: dict
    required: true
  dest:
    description:
      - Directory to write the reports into; created, with its parents, when missing.
      - Files in it other than the four reports are left alone.
      - A relative path is taken from the directory the module runs in, which for a task on the
        controller is the playbook's directory (Ansible runs local modules there). For the directory
        C(ansible-playbook) runs in, resolve it on the controller first, as EXAMPLES do with
        C(ansible.builtin.realpath).
    type: path
    required: true
  templates_dir:
    description:
      - Directory of report templates that replace the shipped ones, on the host the module runs on.
      - A file named C(readiness.html.j2), C(readiness.css.j2) or C(ticket.md.j2) there replaces the
        shipped template of that name; the others stay the shipped ones. Start from a copy of the shipped
        template in C(docs/report-templates/) of the collection.
      - "The templates see C(report) (the result as the reports show it), C(provider) and
        C(ticket_subject); C(docs/report-templates/README.md) lists every variable and filter."
      - A relative path is taken as for O(dest).
    type: path
    version_added: 0.3.0
  provider:
    description:
      - The scanning provider the ticket is for, named in the ticket's default subject and in the page.
    type: str
    default: Qualys
    version_added: 0.3.0
  ticket_subject:
    description:
      - The ticket's subject line.
      - "Default: the source article's: O(provider) followed by C(scan – with Windows authentication)."
    type: str
    version_added: 0.3.0
  generated_at:
    description:
      - Text stamped into every report as the time it was generated, for example an ISO 8601 time
        such as C(2025-06-01T12:00:00+00:00) (see EXAMPLES).
      - Leave it out to keep the reports identical, and the task unchanged, for an unchanged result.
    type: str
attributes:
  check_mode:
    support: full
    details: Reports which files would be written, writes nothing and creates no directory.
  diff_mode:
    support: full
    details: Shows the change of each file that changes.
  platform:
    details: Writes on the host it runs on, usually the controller.
notes:
  - Not-ready targets come first in the HTML page and the ticket, grouped by the class of the
    failure that makes them not ready (a required check first), the class with most targets first.
seealso:
  - module: scanready.windows.scan_readiness
"""  # noqa: RUF001 (the en dash of the default subject)

EXAMPLES = r"""
- name: Verify every scan target from the scanner's side
  scanready.windows.scan_readiness:
    domain: example.com
    username: qualys_scanner
    password: "{{ vault_scanner_password }}"
    targets:
      - {name: web01.example.com, address: 10.0.1.21}
      - {name: db01.example.com}
  delegate_to: localhost
  run_once: true
  register: readiness

- name: Write the reports into ./reports of the directory ansible-playbook runs in
  scanready.windows.readiness_report:
    result: "{{ readiness }}"
    # realpath resolves on the controller; a bare relative dest would be the playbook's directory.
    dest: "{{ 'reports' | ansible.builtin.realpath }}"
  delegate_to: localhost
  run_once: true
  register: reports

- name: Write the reports with our own wording, for another provider
  scanready.windows.readiness_report:
    result: "{{ readiness }}"
    dest: "{{ 'reports' | ansible.builtin.realpath }}"
    # ticket.md.j2 copied from the collection's docs/report-templates/ and edited
    templates_dir: "{{ playbook_dir }}/report-templates"
    provider: Example Scanning Ltd
    ticket_subject: Authenticated Windows scanning for example.com
  delegate_to: localhost
  run_once: true

- name: Stamp the reports with the run time (the files then change on every run)
  scanready.windows.readiness_report:
    result: "{{ readiness }}"
    dest: /srv/reports/scan-readiness
    generated_at: "{{ now(utc=true).isoformat(timespec='seconds') }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: The directory the reports are in (or were to be written into), as an absolute path.
  returned: always, also on failure
  type: str
  sample: /home/ops/reports
files:
  description:
    - Absolute path of each report, by file name (C(readiness.json), C(junit.xml), C(readiness.html) and
      C(ticket.md); with a dot in each name, read them as C(files['ticket.md'])).
  returned: always
  type: dict
  sample:
    readiness.json: /home/ops/reports/readiness.json
    junit.xml: /home/ops/reports/junit.xml
    readiness.html: /home/ops/reports/readiness.html
    ticket.md: /home/ops/reports/ticket.md
changed_files:
  description: Names of the reports whose content changed (or would change, in check mode).
  returned: always
  type: list
  elements: str
  sample: [readiness.json, readiness.html]
summary:
  description: Counts of targets, counted from the hosts in O(result).
  returned: always
  type: dict
  sample: {total: 9, ready: 4, not_ready: 5}
  contains:
    total:
      description: Targets in the reports.
      type: int
    ready:
      description: Targets that are ready.
      type: int
    not_ready:
      description: Targets that are not ready.
      type: int
not_ready:
  description:
    - One entry per target that is not ready, in report order, with the failure that stands for it.
    - C(reason) (class and check) and C(line) (target, address, reason, detail, fix) are one line each, to print.
  returned: always
  type: list
  elements: dict
  sample:
    - name: t0004.example.com
      address: 10.0.1.4
      class: access_denied
      check: share:C$
      detail: "opening \\\\10.0.1.4\\C$ answered STATUS_ACCESS_DENIED"
      fix: Make the scan account a member of the host's local Administrators group.
      reason: Access denied on share:C$
      line: "t0004.example.com (10.0.1.4): Access denied on share:C$: opening ... Fix: Make the scan account ..."
  contains:
    name:
      description: The target's name.
      type: str
    address:
      description: The target's address.
      type: str
    class:
      description: The class of the failure that stands for the target.
      type: str
    check:
      description: The check that failed, or null when the target failed as a whole (for example, unreachable).
      type: str
    detail:
      description: What the check saw, with password-like values masked; null without a check.
      type: str
    fix:
      description: What to do about it; null when there is no fix to give.
      type: str
    reason:
      description: Class and check, as one line.
      type: str
    line:
      description: Target, address, reason, detail and fix, as one line.
      type: str
"""

import os
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.scanready.windows.plugins.module_utils._compat import JINJA2_IMPORT_ERROR, require_library
from ansible_collections.scanready.windows.plugins.module_utils._report.files import REPORT_FILES, render_all
from ansible_collections.scanready.windows.plugins.module_utils._report.model import (
    ReportError,
    not_ready_summary,
    parse_result,
)
from ansible_collections.scanready.windows.plugins.module_utils._report.templates import ReportSettings


def read_existing(path: str) -> str | None:
    """The report's current text, or None when it does not exist yet."""
    if not os.path.lexists(path):
        return None
    if not os.path.isfile(path):
        raise ReportError(f"{path} exists and is not a regular file; remove it or choose another dest")
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def write_atomically(module: AnsibleModule, dest: str, name: str, content: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=dest)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(content)
        module.atomic_move(tmp, os.path.join(dest, name))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "result": {"type": "dict", "required": True},
            "dest": {"type": "path", "required": True},
            "generated_at": {"type": "str"},
            "templates_dir": {"type": "path"},
            "provider": {"type": "str", "default": "Qualys"},
            "ticket_subject": {"type": "str"},
        },
        supports_check_mode=True,
    )
    require_library(module, "jinja2", JINJA2_IMPORT_ERROR)
    dest = os.path.abspath(module.params["dest"])
    settings = ReportSettings(provider=module.params["provider"], ticket_subject=module.params["ticket_subject"],
                              templates_dir=module.params["templates_dir"])
    try:
        report = parse_result(module.params["result"], module.params["generated_at"])
        contents = render_all(report, settings)
        if os.path.lexists(dest) and not os.path.isdir(dest):
            raise ReportError(f"dest {dest} exists and is not a directory")
        existing = {name: read_existing(os.path.join(dest, name)) for name in REPORT_FILES}
    except (ReportError, OSError) as exc:
        module.fail_json(msg=f"readiness_report: {to_native(exc)}", dest=dest)

    changed_files = [name for name in REPORT_FILES if existing[name] != contents[name]]
    result: dict[str, Any] = {
        "changed": bool(changed_files),
        "dest": dest,
        "files": {name: os.path.join(dest, name) for name in REPORT_FILES},
        "changed_files": changed_files,
        "summary": {"total": len(report.hosts), "ready": len(report.ready_hosts),
                    "not_ready": len(report.hosts) - len(report.ready_hosts)},
        "not_ready": not_ready_summary(report),
    }
    if module._diff:
        result["diff"] = [
            {"before_header": os.path.join(dest, name) if existing[name] is not None else "(absent)",
             "after_header": os.path.join(dest, name),
             "before": existing[name] or "", "after": contents[name]}
            for name in changed_files
        ]
    if changed_files and not module.check_mode:
        try:
            os.makedirs(dest, exist_ok=True)
            for name in changed_files:
                write_atomically(module, dest, name, contents[name])
        except OSError as exc:
            module.fail_json(msg=f"readiness_report: cannot write the reports into {dest}: {to_native(exc)}",
                             dest=dest)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
