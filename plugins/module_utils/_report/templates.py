# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering a report template: the user's directory first, then the shipped templates (shipped.py).

One Jinja2 environment per report: HTML templates (``*.html.j2``) are autoescaped, the others
(the ticket, the style sheet) are not. Undefined variables are errors, so a typo in a template
fails the task with the template's name instead of leaving a hole in a report.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.scanready.windows.plugins.module_utils._report.model import ReportError
from ansible_collections.scanready.windows.plugins.module_utils._report.shipped import SHIPPED

with contextlib.suppress(ImportError):  # reported by the module through missing_required_lib
    import jinja2


@dataclass(frozen=True)
class ReportSettings:
    """What the operator chooses about the reports' wording (the data comes from the result)."""

    provider: str  # the scanning provider the ticket is for
    ticket_subject: str | None = None  # None: the ticket template's subject, which names the provider
    templates_dir: str | None = None  # a template file here replaces the shipped one of the same name


def _environment(settings: ReportSettings, filters: Mapping[str, Callable[..., Any]]) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.DictLoader(SHIPPED)]
    if settings.templates_dir is not None:
        if not os.path.isdir(settings.templates_dir):
            raise ReportError(f"templates_dir {settings.templates_dir} is not a directory")
        loaders.insert(0, jinja2.FileSystemLoader(settings.templates_dir))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,  # an included style sheet keeps its last line
    )
    env.filters.update(filters)
    return env


def _origin(name: str, settings: ReportSettings) -> str:
    if settings.templates_dir is not None and os.path.isfile(os.path.join(settings.templates_dir, name)):
        return os.path.join(settings.templates_dir, name)
    return f"{name} (shipped)"


def render(name: str, settings: ReportSettings, filters: Mapping[str, Callable[..., Any]], **context: Any) -> str:
    """The template ``name`` rendered with ``context`` plus the provider and the ticket subject;
    a report ends with exactly one newline, however its template ends."""
    try:
        template = _environment(settings, filters).get_template(name)
        text = template.render(provider=settings.provider, ticket_subject=settings.ticket_subject, **context)
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"template {exc.filename or _origin(exc.name or name, settings)}, line {exc.lineno}: "
                          f"{exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise ReportError(f"template {_origin(name, settings)}: no template named {exc.name} among "
                          f"{sorted(SHIPPED)}{' or in ' + settings.templates_dir if settings.templates_dir else ''}"
                          ) from exc
    except (jinja2.TemplateError, UnicodeDecodeError) as exc:
        raise ReportError(f"template {_origin(name, settings)}: {exc}") from exc
    return text.rstrip("\n") + "\n"
