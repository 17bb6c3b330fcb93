"""The report templates: a user's directory replaces shipped templates, wording options, autoescaping,
template errors, the copies in docs/report-templates, and readiness.json's schema."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._report.files import render_all
from ansible_collections.scanready.windows.plugins.module_utils._report.model import ReportError, parse_result
from ansible_collections.scanready.windows.plugins.module_utils._report.shipped import SHIPPED
from ansible_collections.scanready.windows.plugins.module_utils._report.templates import ReportSettings

from tests.readiness_schema import schema_errors
from tests.unit.test_report import HOSTILE, SAMPLE, SETTINGS, fleet_result

REPO = Path(__file__).resolve().parents[2]
COPIES = REPO / "docs" / "report-templates"


@pytest.fixture
def result() -> dict[str, Any]:
    return fleet_result(8)


def with_templates(directory: Path, **files: str) -> ReportSettings:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return dataclasses.replace(SETTINGS, templates_dir=str(directory))


def test_docs_have_a_copy_of_each_shipped_template() -> None:
    """docs/report-templates/ is where users copy a template from (docs/sample-report/render.py writes it)."""
    for name, source in SHIPPED.items():
        assert (COPIES / name).read_text(encoding="utf-8") == source, f"docs/report-templates/{name} is stale"


def test_a_templates_directory_changes_the_page_and_the_ticket(result: dict[str, Any], tmp_path: Path) -> None:
    """Edited copies of the shipped templates replace them; readiness.json and junit.xml do not change."""
    shipped = render_all(parse_result(result), SETTINGS)
    html = (COPIES / "readiness.html.j2").read_text().replace("<h1>Scan readiness:", "<h1>Scan status:")
    ticket = (COPIES / "ticket.md.j2").read_text().replace("Hello,", "Dear scanning team,")
    mine = with_templates(tmp_path / "mine", **{"readiness.html.j2": html, "ticket.md.j2": ticket})
    edited = render_all(parse_result(result), mine)
    assert "<h1>Scan status: lab1.example.test</h1>" in edited["readiness.html"]
    assert edited["readiness.html"].replace("Scan status:", "Scan readiness:", 1) == shipped["readiness.html"]
    assert edited["ticket.md"] == shipped["ticket.md"].replace("Hello,", "Dear scanning team,")
    assert (edited["readiness.json"], edited["junit.xml"]) == (shipped["readiness.json"], shipped["junit.xml"])


def test_a_template_missing_from_the_directory_stays_the_shipped_one(result: dict[str, Any], tmp_path: Path) -> None:
    settings = with_templates(tmp_path / "mine", **{"readiness.css.j2": "body{color:#000}\n"})
    files = render_all(parse_result(result), settings)
    assert "<style>body{color:#000}\n</style>" in files["readiness.html"]  # the page includes the user's sheet
    assert files["ticket.md"] == render_all(parse_result(result), SETTINGS)["ticket.md"]


def test_provider_and_subject_are_the_operators(result: dict[str, Any]) -> None:
    assert render_all(parse_result(result), SETTINGS)["ticket.md"].startswith(
        "Subject: Qualys scan \u2013 with Windows authentication\n")
    other = dataclasses.replace(SETTINGS, provider="Example Scanning")
    files = render_all(parse_result(result), other)
    assert files["ticket.md"].startswith("Subject: Example Scanning scan \u2013 with Windows authentication\n")
    assert "ticket.md (for Example Scanning)" in files["readiness.html"] and "Qualys" not in files["readiness.html"]
    subject = dataclasses.replace(other, ticket_subject="Scan setup <example.com>")
    assert render_all(parse_result(result), subject)["ticket.md"].startswith("Subject: Scan setup <example.com>\n")


def test_no_vendor_is_named_in_the_renderers() -> None:
    for path in (REPO / "plugins" / "module_utils" / "_report").glob("*.py"):
        assert "qualys" not in path.read_text(encoding="utf-8").lower(), path.name


def test_a_users_page_template_is_autoescaped(result: dict[str, Any], tmp_path: Path) -> None:
    result["domain"] = HOSTILE
    settings = with_templates(tmp_path / "mine", **{"readiness.html.j2": "<h1>{{ report.domain }}</h1>",
                                                    "ticket.md.j2": "{{ report.domain }}"})
    files = render_all(parse_result(result), settings)
    assert files["readiness.html"] == "<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>\n"
    assert files["ticket.md"] == HOSTILE + "\n"  # Markdown for a ticket system: text as it is


@pytest.mark.parametrize(("source", "message"), [
    ("{% if report %}never closed", "readiness.html.j2, line 1: Unexpected end of template"),
    ("{{ report.domian }}", "readiness.html.j2: 'ansible_collections.scanready.windows.plugins.module_utils._report"
                            ".model.Readiness object' has no attribute 'domian'"),
    ("{{ nothing_like_this }}", "readiness.html.j2: 'nothing_like_this' is undefined"),
    ('{% include "missing.j2" %}', "readiness.html.j2: no template named missing.j2 among ["),
])
def test_a_broken_template_is_refused_with_its_file_named(result: dict[str, Any], tmp_path: Path, source: str,
                                                          message: str) -> None:
    settings = with_templates(tmp_path / "mine", **{"readiness.html.j2": source})
    with pytest.raises(ReportError) as err:
        render_all(parse_result(result), settings)
    assert str(err.value).startswith("template " + str(tmp_path / "mine")), err.value
    assert message in str(err.value)


def test_a_templates_dir_that_is_not_a_directory_is_refused(result: dict[str, Any], tmp_path: Path) -> None:
    settings = dataclasses.replace(SETTINGS, templates_dir=str(tmp_path / "missing"))
    with pytest.raises(ReportError, match=r"templates_dir .*/missing is not a directory"):
        render_all(parse_result(result), settings)


def test_the_schema_is_draft_2020_12_and_the_sample_report_matches_it() -> None:
    """(tests/conftest.py checks every readiness.json the other tests produce against it too.)"""
    schema = json.loads((REPO / "docs" / "readiness.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema_errors(json.loads((SAMPLE.parent / "readiness.json").read_text())) == []


def test_the_schema_refuses_what_readiness_json_never_has() -> None:
    doc = json.loads((SAMPLE.parent / "readiness.json").read_text())
    doc["hosts"][0]["checks"]["logon"]["ok"] = "yes"
    del doc["summary"]["not_ready_by_class"]
    doc["hosts"][1]["duration_s"] = 1.0  # run times are left out of the reports
    assert schema_errors(doc) == [
        "$.summary: 'not_ready_by_class' is a required property",
        "$.hosts[0].checks.logon.ok: 'yes' is not of type 'boolean', 'null'",
        "$.hosts[1]: Additional properties are not allowed ('duration_s' was unexpected)",
    ]
