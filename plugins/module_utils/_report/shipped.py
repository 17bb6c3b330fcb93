# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped report templates (Jinja2), by file name: the page (readiness.html.j2, with its style
sheet readiness.css.j2) and the ticket (ticket.md.j2).

They live in Python because a module receives only Python from its collection; docs/report-templates/
has each as a file to copy (tests/unit/test_report_templates.py keeps the two the same). A file of the
same name in the user's templates directory replaces one of them (templates.py).
"""
from __future__ import annotations

from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._report.css import CSS

# Variables: report (domain, account, hosts, ready_hosts, check_names, auth_schemes, generated_at),
# not_ready (groups of cls, hosts, fix), recommended (cls, checks, targets, fix), marks, ready_open,
# provider, ticket_subject. Autoescaped: every value is HTML-escaped where it is printed.
_HTML = """\
{#- readiness.html: a self-contained page (inline CSS, no scripts, no external assets). -#}
{% macro host_row(host, columns, group_fix) -%}
{% set why = host.why -%}
<tr><td class="host">{{ host.name }}<div class="a">{{ host.shown_address }}</div></td>
{%- if host.auth_scheme is none %}<td class="scheme none">none</td>
{%- else %}<td class="scheme">{{ host.auth_scheme | scheme }}</td>{% endif %}
{%- for name in columns %}{% set check = host.checks.get(name) %}
{%- if check is none %}<td class="m" title="no result for this check"><b class="absent">\u00b7</b></td>
{%- elif check.ok %}<td class="m"><b class="ok">{{ marks.ok }}</b></td>
{%- else %}<td class="m" title="{{ name }}: {{ check.cls | label }}: {{ check.detail }}
{%- if check.ok is false and check.fix %} | fix: {{ check.fix }}{% endif %}">\
<b class="{{ check.mark }}">{{ marks[check.mark] }}</b></td>
{%- endif %}
{%- endfor -%}
<td class="why">
{%- if why %}<div><b>{{ why[0] }}</b>: {{ why[1].detail }}</div>
{%- if why[1].fix and why[1].fix != group_fix %}<div>Fix: {{ why[1].fix }}</div>{% endif %}
{%- endif %}
{%- for name, other in host.failures if not (why and name == why[0]) %}
{%- if other.blocking %}<div class="also">Also {{ name }}: {{ other.cls | label }}.
{%- if other.fix %} Fix: {{ other.fix }}{% endif %}</div>
{%- else %}<div class="also">Recommended: {{ name }}: {{ other.cls | label }}.</div>
{%- endif %}
{%- endfor %}</td></tr>
{%- endmacro %}
{% macro table_head(columns, last) -%}
<thead><tr><th>Target</th><th>Logged on with</th>
{%- for name in columns %}
{%- set kind, target = name.split(":", 1) if ":" in name else (name, "") -%}
<th class="chk" title="{{ name }}"><span class="k">{{ kind }}</span>{{ target | wbr }}</th>
{%- endfor %}<th>{{ last }}</th></tr></thead>
{%- endmacro %}
{% set legend -%}
<p class="legend"><span><b class="ok">{{ marks.ok }}</b>passed</span>\
<span><b class="fail">{{ marks.fail }}</b>failed: blocks scanning</span>\
<span><b class="advisory">{{ marks.advisory }}</b>failed: fix recommended, does not block</span>\
<span><b class="untested">{{ marks.untested }}</b>not tested / not testable</span>\
<span>Hover a mark for the detail.</span></p>
{%- endset %}
{% set total, ready = report.hosts | length, report.ready_hosts | length %}
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Scan readiness: {{ report.domain }}</title>
<style>{% include "readiness.css.j2" %}</style></head><body><main>
<h1>Scan readiness: {{ report.domain }}</h1>
<p class="sub">Checked from the scanner's side with the scan account: admin shares, remote registry, \
services, WMI as a scanner connects to it, and the authentication scheme that worked.</p>
<div class="cards">
<div class="card"><div class="n">{{ total | number }}</div><div class="l">Targets</div></div>
<div class="card good"><div class="n">{{ ready | number }}</div><div class="l">Ready</div></div>
<div class="card{{ ' bad' if total - ready else '' }}"><div class="n">{{ (total - ready) | number }}</div>\
<div class="l">Not ready</div></div>
<div class="card wide"><div class="l">Scan account</div><div class="v">{{ report.account }}</div>\
<div class="l" style="margin-top:6px">Domain</div><div class="v">{{ report.domain }}</div></div>
<div class="card wide"><div class="l">Authentication schemes seen</div><div class="v">
{%- for scheme, n in report.auth_schemes.items() %}{{ scheme | scheme }} ({{ n | number }})
{%- if not loop.last %}, {% endif %}{% else %}none{% endfor %}</div></div>
</div>
{% if not_ready %}
<div class="verdict bad">{{ (total - ready) | number }} of {{ total | counted("target") }} are not ready for \
authenticated scanning. Fix these, then run the verification again.</div>
<h2>What to fix</h2><ol class="todo">
{% for group in not_ready %}
<li><a class="cls" href="#{{ group.cls | anchor }}">{{ group.cls | label }}</a><span class="cnt">\
{{ group.hosts | length | counted("target") }}</span><span class="fix">\
{{ group.fix or "No fix given; see the detail per target." }}</span></li>
{% endfor %}
</ol>
{% elif total %}
<div class="verdict good">All {{ total | counted("target") }} are ready for authenticated scanning.</div>
{% else %}
<div class="verdict bad">No targets were verified.</div>
{% endif %}
{% if recommended %}
<h2>Also recommended</h2><p class="sub">Findings that do not block scanning, with their fix.</p>\
<ol class="todo rec">
{% for found in recommended %}
<li><span class="cls">{{ found.cls | label }}</span> on {{ found.checks | join(", ") }}<span class="cnt">\
{{ found.targets | counted("target") }}</span><span class="fix">{{ found.fix or "" }}</span></li>
{% endfor %}
</ol>
{% endif %}
{% if not_ready %}
<h2>Not ready ({{ (total - ready) | number }})</h2>{{ legend }}<table>
{{ table_head(report.check_names, "Why, and what to do") }}
{% for group in not_ready %}
<tbody id="{{ group.cls | anchor }}"><tr class="group"><th colspan="{{ report.check_names | length + 3 }}">\
{{ group.cls | label }} <span class="cnt">\u00b7 {{ group.hosts | length | counted("target") }}</span>
{%- if group.fix %}<div class="fix"><b>Fix:</b> {{ group.fix }}</div>{% endif %}</th></tr>
{% for host in group.hosts %}
{{ host_row(host, report.check_names, group.fix) }}
{% endfor %}
</tbody>
{% endfor %}
</table>
{% endif %}
{% if ready %}
<details{{ " open" if ready_open else "" }}><summary>Ready ({{ ready | number }})</summary>\
{{ "" if not_ready else legend }}<table>
{{ table_head(report.check_names, "Notes") }}
<tbody>
{% for host in report.ready_hosts %}
{{ host_row(host, report.check_names, none) }}
{% endfor %}
</tbody></table></details>
{% endif %}
<footer>Generated{{ " at " ~ report.generated_at if report.generated_at is not none else "" }} by scanready.windows \
from one scan_readiness run. The same data: readiness.json (machines), junit.xml (CI), ticket.md (for \
{{ provider }}).</footer>
</main></body></html>
"""

# Variables: report (domain, account, generated_at), ready (the ready hosts), addresses (their
# addresses, runs of consecutive IPs as first-last), schemes (scheme: count, of the ready hosts, the most
# used first), not_ready (the not-ready hosts, as the page orders them), provider, ticket_subject.
# Not escaped: text from the result goes through md_cell, md_code or md_code_block (text.py) where printed.
_TICKET = """\
{#- ticket.md: what the scanning provider asks for (account, domain, the IP addresses to scan). -#}
Subject: {{ ticket_subject or provider ~ " scan \u2013 with Windows authentication" }}

Hello,

please set up authenticated (trusted) Windows scanning for the hosts below.

- Username of the scan account: {{ report.account | md_code }}
- Domain of the scan account: {{ report.domain | md_code }}
- IP addresses to scan ({{ ready | length }}):

{{ (addresses | join(", ") if addresses else "(none yet)") | md_code_block }}

{% if schemes %}
{% set ntlmv1 = "NTLMv1 is needed by some hosts: please enable it in the Windows authentication record." \
   if "ntlmv1" in schemes else "NTLMv1 is not needed: please leave it disabled." %}
We verified the account from the scanner's side; authentication that worked: \
{% for scheme, n in schemes.items() %}{{ scheme | scheme }} ({{ n }}){{ ", " if not loop.last else "" }}{% endfor %}. \
{{ ntlmv1 }}

{% endif %}
The password is not part of this ticket; we will send it through your secure channel.

{% if not_ready %}
Not ready yet, please do not scan these until we confirm ({{ not_ready | length }}):

| Host | IP address | Why |
|---|---|---|
{% for host in not_ready %}
| {{ host.name | md_cell }} | {{ host.shown_address | md_cell }} | \
{{ (host.cls | label ~ (": " ~ host.why[1].detail if host.why else "")) | md_cell }} |
{% endfor %}

{% endif %}
{% if report.generated_at is not none %}
Verified at {{ report.generated_at }}.

{% endif %}
"""

SHIPPED: Final[dict[str, str]] = {
    "readiness.html.j2": _HTML,
    "readiness.css.j2": CSS,
    "ticket.md.j2": _TICKET,
}
