/**
 * The dashboard page: one HTML document, its stylesheet and its script, all served by the dashboard
 * itself (no CDN, no framework). Every URL in them is relative, so the same page works at `/` of
 * `vigil dashboard` and under a prefix such as `/dashboard/` of another keeper's server.
 *
 * The script builds the DOM with `createElement` and `textContent` only: strings from the chain (service
 * names, endpoint URIs, which anyone registering a service chooses) are never parsed as markup, never
 * become a link, and the server's Content-Security-Policy allows no inline script as a second fence.
 */
import { CLIENT_JS } from "./client";

/** The HTML document (`GET /`). Static: the data comes from `api/state`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil dashboard</title>
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header>
  <div class="brand">Vigil <span>dashboard</span></div>
  <div id="chain" class="chain"></div>
  <div id="live" class="live" data-state="connecting">connecting…</div>
</header>
<main>
  <section id="tiles" class="tiles"></section>
  <section><h2>Services</h2><div id="services"></div></section>
  <section><h2>Markets</h2><div id="markets"></div></section>
  <div class="cols">
    <section><h2>Attestor participation</h2><div id="rounds"></div></section>
    <section><h2>Recent actions</h2><div id="actions"></div></section>
  </div>
</main>
<footer id="footer"></footer>
</body>
</html>
`;

/** The stylesheet (`GET /dashboard.css`). */
export const PAGE_CSS = `
:root { --bg:#0f1419; --panel:#171d24; --line:#27303a; --text:#e6e9ee; --dim:#8d97a5;
  --ok:#2fbf71; --warn:#e8b339; --bad:#ef5350; --unk:#6b7685; --accent:#5aa9ff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; }
header { display:flex; align-items:center; gap:24px; padding:14px 24px; border-bottom:1px solid var(--line); background:var(--panel); }
.brand { font-size:20px; font-weight:700; letter-spacing:.5px; }
.brand span { color:var(--dim); font-weight:400; }
.chain { color:var(--dim); flex:1; }
.chain b { color:var(--text); font-weight:600; }
.live { padding:4px 10px; border-radius:12px; font-size:12px; background:#22303c; }
.live[data-state=live]::before { content:"● "; color:var(--ok); }
.live[data-state=stale]::before, .live[data-state=error]::before { content:"● "; color:var(--bad); }
main { padding:18px 24px; }
h2 { font-size:13px; text-transform:uppercase; letter-spacing:1px; color:var(--dim); margin:22px 0 10px; }
.tiles { display:grid; grid-template-columns:repeat(4,1fr); gap:12px; }
.tile { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
.tile .v { font-size:26px; font-weight:700; }
.tile .k { color:var(--dim); font-size:12px; text-transform:uppercase; letter-spacing:.8px; }
.tile.bad .v { color:var(--bad); } .tile.ok .v { color:var(--ok); } .tile.warn .v { color:var(--warn); }
.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin-bottom:14px; }
.card h3 { margin:0 0 4px; font-size:16px; }
.meta { color:var(--dim); font-size:12px; margin-bottom:10px; }
.meta b { color:var(--text); font-weight:600; }
table { width:100%; border-collapse:collapse; }
th { text-align:left; color:var(--dim); font-weight:500; font-size:12px; padding:6px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
td { padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:middle; }
tr:last-child td { border-bottom:none; }
.uri { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12.5px; word-break:break-all; max-width:340px; }
.mono { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12px; }
.dim { color:var(--dim); }
.pill { display:inline-block; min-width:78px; text-align:center; padding:2px 8px; border-radius:10px; font-size:12px; font-weight:700; letter-spacing:.4px; }
.s-HEALTHY, .s-OPEN { background:rgba(47,191,113,.16); color:var(--ok); }
.s-DEGRADED, .s-PENDING { background:rgba(232,179,57,.16); color:var(--warn); }
.s-DOWN, .s-PAUSED { background:rgba(239,83,80,.18); color:var(--bad); }
.s-UNKNOWN { background:rgba(107,118,133,.2); color:#aab3bf; }
.active-mark { color:var(--accent); font-weight:700; }
tr.active td { background:rgba(90,169,255,.06); }
.bar { width:110px; height:8px; background:#27303a; border-radius:4px; overflow:hidden; display:inline-block; vertical-align:middle; margin-right:8px; }
.bar i { display:block; height:100%; }
.timeline { display:flex; width:260px; height:14px; border-radius:3px; overflow:hidden; background:#27303a; }
.timeline i { display:block; height:100%; min-width:2px; }
.t-HEALTHY { background:var(--ok); } .t-DEGRADED { background:var(--warn); } .t-DOWN { background:var(--bad); } .t-UNKNOWN { background:var(--unk); }
.axis { display:flex; justify-content:space-between; width:260px; color:var(--dim); font-size:10.5px; }
.migrations { margin-top:10px; font-size:12.5px; }
.migrations .row { padding:3px 0; }
.tag { display:inline-block; padding:0 6px; border-radius:4px; font-size:11px; font-weight:700; margin-right:6px; background:#22303c; color:var(--accent); }
.cols { display:grid; grid-template-columns:minmax(0,1fr); gap:0; }
.time, [data-tx] { white-space:nowrap; }
.scroll { overflow-x:auto; }
.bad { color:var(--bad); }
td.summary { overflow-wrap:anywhere; }
td.bad { color:var(--bad); font-weight:700; }
.tag.market-paused, .tag.jailed { color:var(--bad); }
.tag.failback, .tag.market-resumed { color:var(--ok); }
.dot { display:inline-block; width:12px; height:12px; border-radius:50%; border:2px solid var(--unk); }
.dot.on { background:var(--ok); border-color:var(--ok); }
.dot.jailed { border-color:var(--bad); }
.empty { color:var(--dim); padding:8px 0; }
.notice { color:var(--warn); margin:8px 0; }
footer { color:var(--dim); font-size:12px; padding:10px 24px 24px; }
@media (max-width: 1100px) { .cols { grid-template-columns:1fr; } .tiles { grid-template-columns:repeat(2,1fr); } }
`;

/** The script (`GET /dashboard.js`). */
export const PAGE_JS = CLIENT_JS;
