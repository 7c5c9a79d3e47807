// The report's stylesheet, inlined: system fonts only (no web fonts: the page makes no requests).
export const REPORT_CSS = `
:root {
  --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --muted: #5f6b7a; --line: #dde2e8;
  --blocked: #d64541; --stuck: #e67e22; --waiting: #8fa3b8; --progressing: #2e9d5b; --idle: #cfd6de; --absent: #eef0f3;
  --cycle: #e0221b; --deadlock: #b3261e; --healthy: #2e7d32; --slow: #b7791f; --accent: #2f5fb3;
  --mono: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', Roboto, sans-serif; }
main { max-width: 1600px; margin: 0 auto; padding: 8px 20px 40px; }
h1 { font-size: 15px; margin: 0; color: var(--muted); font-weight: 600; }
h2 { font-size: 17px; margin: 0 0 6px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
code, .mono { font-family: var(--mono); font-size: 12px; }
a { color: var(--accent); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; margin: 10px 0; }
.muted { color: var(--muted); }
.small { font-size: 12px; }

/* verdict */
.verdict { display: flex; gap: 22px; align-items: center; flex-wrap: wrap; border-left: 8px solid var(--muted); }
.verdict.v-deadlock { border-left-color: var(--deadlock); }
.verdict.v-stuck { border-left-color: var(--stuck); }
.verdict.v-slow { border-left-color: var(--slow); }
.verdict.v-healthy { border-left-color: var(--healthy); }
.verdict-word { font-size: 30px; line-height: 1.1; font-weight: 800; letter-spacing: 0.04em; text-transform: uppercase; }
.v-deadlock .verdict-word { color: var(--deadlock); }
.v-stuck .verdict-word { color: var(--stuck); }
.v-slow .verdict-word { color: var(--slow); }
.v-healthy .verdict-word { color: var(--healthy); }
.verdict-reason { font-size: 15px; flex: 1 1 420px; min-width: 0; }
/* A reason can list a hundred nodes: two lines until clicked. */
.reason { display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; cursor: pointer; }
.reason.open { display: block; }
.figures { display: flex; gap: 18px; flex-wrap: wrap; margin: 6px 0 0; padding: 0; list-style: none; }
.figures li { font-size: 12px; color: var(--muted); }
.figures b { display: block; font-size: 17px; line-height: 1.2; color: var(--ink); }
.notes { margin: 8px 0 0; padding-left: 18px; color: var(--muted); font-size: 12px; }
nav.toc { display: flex; gap: 14px; flex-wrap: wrap; font-size: 13px; margin: 4px 0; }

/* graph */
.graph-wrap { position: relative; overflow: auto; max-height: 78vh; border: 1px solid var(--line); border-radius: 8px; background: #fcfcfd; }
.graph-wrap.fit svg { max-width: 100%; height: auto; max-height: 74vh; margin: 0 auto; }
.graph-help { margin: -4px 0 8px; }
.cycle-text { color: var(--cycle); }
.graph-tools { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; font-size: 12px; }
.legend { display: flex; gap: 12px; flex-wrap: wrap; color: var(--muted); }
.legend i { display: inline-block; width: 14px; height: 10px; border-radius: 3px; margin-right: 4px; vertical-align: -1px; border: 1px solid #999; }
#graph-svg { font-family: var(--mono); font-size: 11px; display: block; }
#graph-svg .cluster rect { fill: #eef2f7; stroke: #b8c2cf; stroke-width: 1; }
#graph-svg .cluster-label { font-weight: 700; font-size: 12px; fill: #24324a; font-family: system-ui, sans-serif; }
#graph-svg .cluster-sub { font-weight: 400; font-size: 11px; fill: var(--muted); }
#graph-svg .vertex { cursor: pointer; }
#graph-svg .vertex rect { fill: #fff; stroke: #8b97a6; stroke-width: 1.2; }
#graph-svg .vertex text { text-anchor: middle; fill: var(--ink); pointer-events: none; }
#graph-svg .vertex .l2 { fill: var(--muted); font-size: 10px; }
#graph-svg .vertex.progressing rect { fill: #e8f6ee; stroke: var(--progressing); }
#graph-svg .vertex.idle rect { fill: #f1f3f5; }
#graph-svg .vertex.waiting rect { fill: #fff4e5; stroke: #d9961a; }
#graph-svg .vertex.deadlocked rect { fill: #fdecea; stroke: var(--blocked); }
#graph-svg .vertex.cycle rect { stroke: var(--cycle); stroke-width: 2.4; }
#graph-svg .vertex.pool rect { stroke-width: 2.2; fill: #fbe3e1; }
#graph-svg .vertex.pool:not(.deadlocked) rect { fill: #fff; }
#graph-svg .vertex.pool .l1 { font-weight: 700; font-size: 12px; }
#graph-svg .vertex.group rect { stroke-dasharray: 5 3; }
#graph-svg .vertex.summary rect { stroke-dasharray: 3 3; fill: #f7f8fa; }
#graph-svg .vertex.summary .l1 { font-style: italic; }
#graph-svg .vertex.selected rect { stroke: var(--accent); stroke-width: 3; }
#graph-svg .vertex:focus { outline: none; }
#graph-svg .edge .line { fill: none; stroke: #9aa5b3; stroke-width: 1.3; }
#graph-svg .edge .hit { fill: none; stroke: transparent; stroke-width: 10; cursor: pointer; }
#graph-svg .edge.cycle .line { stroke: var(--cycle); stroke-width: 2.6; }
#graph-svg .edge.hl .line { stroke: var(--accent); stroke-width: 2.4; }
#graph-svg .edge.cycle.hl .line { stroke: #7a0d09; }
#graph-svg .edge.selected .line { stroke: var(--accent); stroke-width: 3.2; }
#graph-svg .arrow { fill: #9aa5b3; }
#graph-svg .arrow-cycle { fill: var(--cycle); }
#graph-svg .badge rect { fill: #fff; stroke: #9aa5b3; }
#graph-svg .edge.cycle .badge rect { stroke: var(--cycle); }
#graph-svg .badge text { text-anchor: middle; font-size: 10px; fill: var(--ink); }

/* side panel */
#panel { position: fixed; top: 0; right: 0; bottom: 0; width: min(520px, 92vw); background: var(--card); border-left: 1px solid var(--line);
  box-shadow: -6px 0 24px rgba(20, 30, 50, 0.12); padding: 16px; overflow: auto; z-index: 10; }
#panel[hidden] { display: none; }
#panel .close { position: absolute; top: 8px; right: 10px; border: 0; background: none; font-size: 20px; cursor: pointer; color: var(--muted); }
#panel h3 { margin-top: 0; padding-right: 24px; word-break: break-all; }
#panel ul.evidence { padding-left: 16px; margin: 4px 0 10px; }
#panel ul.evidence li { font-family: var(--mono); font-size: 11.5px; word-break: break-word; margin-bottom: 3px; }
#panel .edge-item { border-top: 1px solid var(--line); padding-top: 6px; margin-top: 6px; }
.tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 9px; background: #e9edf2; color: var(--ink); margin-right: 4px; white-space: nowrap; }
.tag.cycle, .tag.deadlocked, .tag.blocked { background: #fbe3e1; color: var(--deadlock); }
.tag.running-stuck { background: #fdebd7; color: #9a5312; }
.tag.progressing { background: #e3f4ea; color: #1e6b3e; }
.tag.waiting { background: #e8edf2; color: #4a5d70; }
.tag.idle { background: #eef0f3; color: var(--muted); }
.tag.jvm { background: #e6ecf8; color: var(--accent); }
button.link { border: 0; background: none; color: var(--accent); cursor: pointer; padding: 0; font: inherit; text-decoration: underline; }
button.small-btn { font: inherit; font-size: 12px; padding: 2px 9px; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }
button.small-btn.on { background: #e6ecf8; border-color: #9fb3dc; }

/* heatmap */
.heat-wrap { max-height: 60vh; overflow: auto; }
table.heatmap { border-collapse: separate; border-spacing: 2px; }
table.heatmap th { font-weight: 500; font-size: 12px; text-align: left; padding: 0 8px 0 0; white-space: nowrap; position: sticky; left: 0; background: var(--card); }
table.heatmap thead th { position: sticky; top: 0; z-index: 1; text-align: center; color: var(--muted); }
table.heatmap td.cell { width: 74px; height: 18px; padding: 0; border-radius: 3px; cursor: pointer; border: 1px solid rgba(0,0,0,0.06);
  background-origin: border-box; background-repeat: no-repeat; }
table.heatmap td.cell.absent { background: repeating-linear-gradient(45deg, var(--absent), var(--absent) 4px, #fff 4px, #fff 8px); cursor: default; }
table.heatmap td.cell:hover { outline: 2px solid var(--accent); }
table.heatmap tr.selected th { color: var(--accent); font-weight: 700; }
table.heatmap td.rowsum { font-size: 11px; color: var(--muted); padding-left: 8px; white-space: nowrap; }

/* threads */
.filters { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; margin-bottom: 8px; }
.filters input[type=search] { font: inherit; padding: 4px 8px; width: 320px; border: 1px solid var(--line); border-radius: 6px; }
.filters select { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 6px; }
.chip { background: #e6ecf8; border-radius: 12px; padding: 1px 4px 1px 10px; font-size: 12px; }
.chip button { border: 0; background: none; cursor: pointer; color: var(--muted); }
.threads-grid { display: grid; grid-template-columns: minmax(360px, 40%) 1fr; gap: 12px; align-items: start; }
.thread-list { max-height: 70vh; overflow: auto; border: 1px solid var(--line); border-radius: 8px; }
table.list { border-collapse: collapse; width: 100%; font-size: 12px; }
table.list td, table.list th { padding: 3px 8px; border-bottom: 1px solid #eef0f3; text-align: left; vertical-align: top; }
table.list th { position: sticky; top: 0; background: #f3f5f8; font-weight: 600; }
table.list tr.thread-row { cursor: pointer; }
table.list tr.thread-row:hover { background: #f3f6fb; }
table.list tr.thread-row.selected { background: #e6ecf8; }
table.list td.node { white-space: nowrap; }
table.list td.name { font-family: var(--mono); font-size: 11.5px; word-break: break-all; }
.more-row td { text-align: center; }
#thread-detail { min-height: 120px; }
.stacks-wrap { max-height: 70vh; overflow: auto; border: 1px solid var(--line); border-radius: 6px; margin-top: 6px; }
table.stacks { table-layout: fixed; width: 100%; border-collapse: collapse; font-family: var(--mono); font-size: 11px; }
table.stacks th { position: sticky; top: 0; background: #f3f5f8; text-align: left; padding: 4px 8px; font: 600 12px system-ui, sans-serif; }
table.stacks th .state { font-weight: 400; color: var(--muted); }
table.stacks th .state.changed { color: #9a5312; font-weight: 600; }
table.stacks td { padding: 1px 8px; vertical-align: top; overflow-wrap: anywhere; border-top: 1px solid #f1f2f4; border-left: 1px solid #f1f2f4; }
table.stacks tr.chg td { background: #fff1cf; }
table.stacks td.pad { background: #fafbfc; }
table.stacks td.absent { color: var(--muted); font-style: italic; background: #fafbfc; }

/* tables */
table.data { border-collapse: collapse; font-size: 12.5px; width: 100%; }
table.data th, table.data td { padding: 4px 8px; border-bottom: 1px solid #eef0f3; text-align: left; vertical-align: top; }
table.data td.mono, table.data td.wrap { overflow-wrap: anywhere; }
table.data td.nowrap { white-space: nowrap; }
table.data th { background: #f3f5f8; font-weight: 600; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.chain td { font-size: 12px; }
.prediction { border-left: 4px solid var(--slow); padding-left: 10px; margin-bottom: 14px; }
ul.evidence { padding-left: 18px; font-size: 12px; }
details > summary { cursor: pointer; }
pre.frames { font-family: var(--mono); font-size: 11px; margin: 4px 0; white-space: pre-wrap; background: #f7f8fa; padding: 6px 8px; border-radius: 6px; }
.extra-section svg { max-width: 100%; height: auto; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 20px; }
@media (max-width: 900px) { .threads-grid { grid-template-columns: 1fr; } }
`;
