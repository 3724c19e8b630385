/**
 * The dashboard's stylesheet, served at `/dashboard.css` (the CSP allows `style-src 'self'` only).
 * Light and dark by `prefers-color-scheme`; one column on a phone, tables scroll sideways.
 */
export const DASHBOARD_CSS = `:root{color-scheme:light dark;--bg:#fff;--fg:#17181a;--muted:#5d6470;--line:#d6d9de;--card:#f6f7f9;
--ok:#1a7f37;--warn:#9a6700;--bad:#c2202f;--info:#0969da;--track:#e4e7eb}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--fg:#e6e8eb;--muted:#9aa3ae;--line:#2e333b;--card:#171a20;
--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#58a6ff;--track:#2a2f37}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
header,main{max-width:1100px;margin:0 auto;padding:0 16px}
header{padding-top:16px}
h1{font-size:1.4rem;margin:.3em 0}h2{font-size:1.1rem;margin:1.4em 0 .5em}
a{color:var(--info)}
.muted{color:var(--muted)}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
.hash{word-break:break-all}
section{border-top:1px solid var(--line);padding-bottom:.5em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;min-width:560px}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line)}
thead th{font-weight:600;color:var(--muted);font-size:.85rem}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.8rem;border:1px solid currentColor;white-space:nowrap}
.state-ok,.outcome-rotated,.chain-intact{color:var(--ok)}
.state-due-soon,.pending,.outcome-running{color:var(--warn)}
.state-overdue,.state-needs-attention,.outcome-rolled-back,.outcome-needs-attention,.outcome-interrupted,.chain-broken,.break-glass{color:var(--bad)}
.state-rotating{color:var(--info)}
tr[data-state=overdue] th,tr[data-state=needs-attention] th{color:var(--bad)}
.agebar{width:120px;height:10px;vertical-align:middle;margin-right:6px}
.agebar .track{fill:var(--track)}.agebar .fine{fill:var(--ok)}.agebar .warn{fill:var(--warn)}.agebar .over{fill:var(--bad)}
.agetext{font-size:.85rem;white-space:nowrap}
ol.timeline,ul.requests{list-style:none;padding:0;margin:0}
li.rotation,li.request{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:8px 0}
li.rotation[data-outcome=rolled-back],li.rotation[data-outcome=needs-attention]{border-left:4px solid var(--bad)}
li.rotation[data-outcome=rotated]{border-left:4px solid var(--ok)}
li.rotation p,li.request p{margin:.2em 0}
ol.steps{display:flex;flex-wrap:wrap;gap:4px;list-style:none;padding:0;margin:.4em 0}
li.step{border:1px solid var(--line);border-radius:6px;padding:1px 6px;font-size:.8rem}
li.step.failed{border-color:var(--bad);color:var(--bad);font-weight:600}
.failure{color:var(--bad)}
pre.approve-command{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:6px 8px;overflow-x:auto;margin:.3em 0}
figure{margin:1em 0}figcaption{color:var(--muted);font-size:.85rem}
svg.chart{width:100%;height:auto;max-height:260px}
.chart .grid{stroke:var(--line);stroke-width:1}.chart .axis{stroke:var(--muted)}
.chart .tick,.chart .empty{fill:var(--muted);font-size:11px}
.chart .bar{fill:var(--ok)}.chart .outcome-rolled-back,.chart .outcome-needs-attention{fill:var(--bad)}
.chart .limit{stroke:var(--bad);stroke-dasharray:6 4}
.chart .interval.within{fill:var(--info)}.chart .interval.over{fill:var(--bad)}
.chart .age{fill:none;stroke-width:2}.chart .age.within{stroke:var(--info)}.chart .age.over{stroke:var(--bad)}
details{margin:.3em 0}table.verification{min-width:0;font-size:.85rem}
pre.approve-command code{white-space:pre-wrap;word-break:break-all}
@media (max-width:600px){body{font-size:14px}header,main{padding:0 10px}.agebar{width:80px}
#secrets table{min-width:0}#secrets thead{display:none}
#secrets tr,#secrets th,#secrets td{display:block;border:0;padding:2px 0}
#secrets tr.secret{border-bottom:1px solid var(--line);padding:8px 0}
#secrets td::before{content:attr(data-label) ": ";color:var(--muted);font-size:.8rem}
#secrets td br{display:none}#secrets td .muted{margin-left:6px}}
`;
