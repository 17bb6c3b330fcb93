import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# module_utils import as ansible_collections.scanready.windows.plugins.module_utils.* (make collection)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".cache" / "collections"))

from ansible_collections.scanready.windows.plugins.module_utils._report import text

from tests.readiness_schema import schema_errors


@pytest.fixture(autouse=True)
def readiness_json_matches_the_schema(request: pytest.FixtureRequest,
                                      monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every readiness.json a test produces matches docs/readiness.schema.json: each one rendered in the
    test's process, and each one written under its tmp_path (by ansible, the module or the role).
    Checked after the test, so timings inside it do not include validation."""
    rendered: list[tuple[str, Any]] = []
    render = text.readiness_document

    def recording(report: Any) -> dict[str, Any]:
        doc = render(report)
        rendered.append(("rendered in the test", doc))
        return doc

    monkeypatch.setattr(text, "readiness_document", recording)
    tmp_path = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    written = sorted(tmp_path.rglob("readiness.json")) if tmp_path is not None else []
    rendered.extend((str(path), json.loads(path.read_text(encoding="utf-8"))) for path in written)
    problems = [f"{where}: {error}" for where, doc in rendered for error in schema_errors(doc)[:5]]
    assert not problems, "readiness.json does not match docs/readiness.schema.json:\n" + "\n".join(problems[:20])
