# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report's style sheet: the shipped readiness.css.j2, included inline by readiness.html.j2."""
from __future__ import annotations

from typing import Final

CSS: Final = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:#1f2328;background:#f6f8fa}
main{max-width:1600px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 10px}
.sub{color:#57606a;margin:0 0 18px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:8px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 18px;min-width:150px}
.card .n{font-size:30px;font-weight:650;line-height:1.1}
.card .l{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.good .n{color:#1a7f37}.card.bad .n{color:#cf222e}
.card.wide{min-width:260px}
.card .v{font-size:15px;font-weight:600;margin-top:4px;word-break:break-all}
.verdict{padding:10px 16px;border-radius:8px;margin:14px 0 0;font-weight:600}
.verdict.good{background:#dafbe1;color:#116329;border:1px solid #aceebb}
.verdict.bad{background:#ffebe9;color:#82071e;border:1px solid #ffcecb}
.todo{list-style:none;padding:0;margin:0;display:grid;gap:8px}
.todo li{background:#fff;border:1px solid #d0d7de;border-left:5px solid #cf222e;border-radius:6px;padding:7px 14px}
.todo.rec li{border-left-color:#d4a72c}
.todo .cls{font-weight:650;color:#1f2328;text-decoration:none}
.todo .cls:hover{text-decoration:underline}
.todo .cnt{color:#57606a;margin:0 8px 0 6px}
table{border-collapse:separate;border-spacing:0;background:#fff;border:1px solid #d0d7de;border-radius:8px;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top;text-align:left}
thead th{position:sticky;top:0;background:#f6f8fa;z-index:1;font-size:12px;font-weight:600;color:#424a53;
 border-bottom:1px solid #d0d7de}
th.chk{text-align:center;min-width:64px;width:92px}
th.chk .k{display:block;color:#6e7781;font-weight:500;text-transform:uppercase;font-size:10px;letter-spacing:.04em}
td.m{text-align:center;width:64px}
.m b,.legend b{display:inline-block;min-width:24px;line-height:20px;border-radius:4px;text-align:center;font-weight:700}
b.ok{color:#1a7f37;background:#dafbe1}
b.fail{color:#fff;background:#cf222e}
b.advisory{color:#7d4e00;background:#fff1c2}
b.untested{color:#6e7781;background:#eaeef2}
b.absent{color:#8c959f}
td.host{white-space:nowrap}
td.host .a{color:#57606a;font-size:12px}
td.why{min-width:260px;font-size:13px}
td.why .also{color:#57606a;margin-top:3px}
td.scheme{white-space:nowrap;font-size:13px}
td.scheme.none{color:#8c959f}
tr.group th{background:#fff8f7;border-top:2px solid #cf222e;font-size:14px;text-align:left;padding:9px 8px}
tr.group .cnt{color:#57606a;font-weight:500}
tr.group .fix{font-weight:400;margin-top:2px}
tr.group .fix b{font-weight:650}
.legend{color:#57606a;font-size:12px;margin:8px 0}
.legend span{display:inline-block;margin-right:14px}
.legend b{margin-right:5px}
details>summary{cursor:pointer;font-size:18px;font-weight:600;margin:32px 0 10px}
footer{color:#57606a;font-size:12px;margin-top:28px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
@media print{thead th{position:static}details{display:block}}
"""
