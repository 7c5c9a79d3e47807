// The report's static parts, rendered to HTML at generation time: the verdict, the heatmap, the
// deadlock chains, the predicted deadlocks, the exhausted pools and the stuck stacks. Static markup shows even with scripts
// off, and keeps the page's script down to interaction (filtering, drill-down, the side panel).
import type {
  AnalysisResult,
  DeadlockOut,
  NodeSummary,
  PoolSummary,
  Prediction,
  SampleCounts,
} from '../../diagnose/result.js';
import { firesText, seenText } from '../predictions.js';
import { ellipsize, esc } from './escape.js';

const MAX_POOL_ROWS = 500;
const MAX_DEADLOCKS_SHOWN = 20;
const MAX_STUCK_GROUPS = 100;
const MAX_NAMES_LISTED = 6;

export function fmtMs(ms: number): string {
  if (ms <= 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

function listSome(items: readonly string[], max = MAX_NAMES_LISTED): string {
  if (items.length <= max) return items.map(esc).join(', ');
  return `${items.slice(0, max).map(esc).join(', ')} <span class="muted">and ${items.length - max} more</span>`;
}

export function verdictSection(result: AnalysisResult, title: string): string {
  const exhausted = result.pools.filter((p) => p.exhausted).length;
  const fig = (value: string | number, label: string) =>
    `<li><b>${esc(typeof value === 'number' ? value.toLocaleString('en-US') : value)}</b>${esc(label)}</li>`;
  const figures = [
    fig(result.samples, result.samples === 1 ? 'sample' : 'samples'),
    fig(fmtMs(result.spanMs), 'span'),
    fig(result.nodes.length, result.nodes.length === 1 ? 'node' : 'nodes'),
    fig(result.threads.total, 'threads'),
    fig(result.threads.blocked, 'blocked'),
    fig(result.threads.runningStuck, 'running-stuck'),
    fig(result.threads.waiting, 'waiting'),
    fig(result.threads.progressing, 'progressing'),
    fig(exhausted, exhausted === 1 ? 'exhausted pool' : 'exhausted pools'),
    fig(result.deadlocks.length, result.deadlocks.length === 1 ? 'deadlock' : 'deadlocks'),
  ];
  const notes = result.notes.length
    ? `<ul class="notes">${result.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`
    : '';
  return (
    `<section id="verdict" class="card verdict v-${esc(result.verdict)}">` +
    `<div><h1>${esc(title)}</h1><div class="verdict-word" data-verdict="${esc(result.verdict)}">${esc(result.verdict)}</div></div>` +
    `<div class="verdict-reason"><div class="reason" title="click to expand">${esc(result.reason)}</div><ul class="figures">${figures.join('')}</ul>${notes}</div>` +
    `</section>`
  );
}

function cellStyle(c: SampleCounts): string {
  const total = Math.max(1, c.total);
  const parts: [string, number][] = [
    ['var(--blocked)', c.blocked],
    ['var(--stuck)', c.runningStuck],
    ['var(--waiting)', c.waiting],
    ['var(--progressing)', c.progressing],
    ['var(--idle)', c.idle],
  ];
  let at = 0;
  const stops: string[] = [];
  for (const [color, n] of parts) {
    if (n <= 0) continue;
    const to = Math.min(100, at + (n / total) * 100);
    stops.push(`${color} ${at.toFixed(1)}% ${to.toFixed(1)}%`);
    at = to;
  }
  if (at < 99.9) stops.push(`#fff ${at.toFixed(1)}% 100%`);
  // background-image, not the shorthand: the stylesheet's origin/repeat keep the bar off the border.
  return stops.length === 1
    ? `background-color:${stops[0]!.split(' ')[0]}`
    : `background-image:linear-gradient(90deg,${stops.join(',')})`;
}

/** One `<td class="cell">` per node × sample: a stacked bar of blocked, running-stuck, waiting, progressing and idle. */
export function heatmapSection(result: AnalysisResult): string {
  const head = Array.from({ length: result.samples }, (_, i) => `<th>#${i + 1}</th>`).join('');
  const rows = result.nodes.map((n) => heatRow(n, result.samples)).join('');
  return (
    `<section id="heatmap" class="card"><h2>Thread states per node × sample</h2>` +
    `<p class="muted small">Each cell is one node's dump in one sample, a bar split by what its threads did over the whole span: ` +
    `<span class="tag blocked">blocked</span><span class="tag running-stuck">running-stuck</span><span class="tag waiting">waiting</span>` +
    `<span class="tag progressing">progressing</span><span class="tag idle">idle</span>. Hover for counts; click to list that node's threads.</p>` +
    `<div class="heat-wrap"><table class="heatmap"><thead><tr><th>node</th>${head}<th></th></tr></thead><tbody>${rows}</tbody></table></div>` +
    `</section>`
  );
}

function heatRow(n: NodeSummary, samples: number): string {
  const cells: string[] = [];
  for (let g = 0; g < samples; g++) {
    const k = n.rounds.indexOf(g);
    const c = k >= 0 ? n.samples[k] : undefined;
    const attrs = `data-node="${esc(n.name)}" data-sample="${g}"`;
    if (c === undefined) {
      cells.push(`<td class="cell absent" ${attrs} title="${esc(`${n.name} · sample ${g + 1}: no dump`)}"></td>`);
      continue;
    }
    const title =
      `${n.name} · sample ${g + 1}: ${c.total} threads — ${c.blocked} blocked, ${c.runningStuck} running-stuck, ${c.waiting} waiting, ` +
      `${c.progressing} progressing, ${c.idle} idle`;
    cells.push(
      `<td class="cell" ${attrs} data-blocked="${c.blocked}" data-total="${c.total}" title="${esc(title)}" style="${cellStyle(c)}"></td>`,
    );
  }
  const roles = n.roles.filter((r) => r !== n.name);
  const role = roles.length ? ` <span class="muted small">${esc(roles.join(', '))}</span>` : '';
  const sum = [n.blocked ? `${n.blocked} blocked` : '', n.runningStuck ? `${n.runningStuck} stuck` : '']
    .filter(Boolean)
    .join(', ');
  return `<tr data-node="${esc(n.name)}"><th>${esc(n.name)}${role}</th>${cells.join('')}<td class="rowsum">${esc(sum)}</td></tr>`;
}

export function deadlocksSection(result: AnalysisResult): string {
  if (result.deadlocks.length === 0) return '';
  const items = result.deadlocks
    .slice(0, MAX_DEADLOCKS_SHOWN)
    .map((d, i) => deadlockItem(d, i))
    .join('');
  const more =
    result.deadlocks.length > MAX_DEADLOCKS_SHOWN
      ? `<p class="muted">${result.deadlocks.length - MAX_DEADLOCKS_SHOWN} more not shown (see --json).</p>`
      : '';
  return `<section id="deadlocks" class="card"><h2>Deadlocks (${result.deadlocks.length})</h2>${items}${more}</section>`;
}

function deadlockItem(d: DeadlockOut, i: number): string {
  const rows = d.cycle
    .map(
      (s, k) =>
        `<tr><td class="num">${k + 1}</td><td class="nowrap">${esc(s.node)}</td><td class="mono">${esc(s.thread ?? s.pool ?? '')}</td>` +
        `<td class="wrap">${esc(s.via)}</td><td class="mono">${esc(s.waitsFor)}</td>` +
        `<td><details><summary>${s.evidence.length} line${s.evidence.length === 1 ? '' : 's'}</summary><pre class="frames">${esc(s.evidence.join('\n'))}</pre></details></td></tr>`,
    )
    .join('');
  const jvm = d.jvmReported
    ? '<span class="tag jvm">reported by the JVM</span>'
    : '<span class="tag">found by rollcall</span>';
  const behind = d.blockedBehindCount > 0 ? `, ${d.blockedBehindCount} more waiting behind it` : '';
  return (
    `<div class="deadlock" data-kind="${esc(d.kind)}"><h3>#${i + 1} ${esc(d.kind)} ${jvm}</h3>` +
    `<p class="small">Spans ${listSome(d.nodes, 10)} — ${d.memberCount} threads and pools in the cycle${esc(behind)}.</p>` +
    `<table class="data chain"><thead><tr><th class="num">#</th><th>node</th><th>thread / pool</th><th>waits via</th><th>for</th><th>evidence</th></tr></thead>` +
    `<tbody>${rows}</tbody></table></div>`
  );
}

/** The JVM's own deadlock sections, and why the cross-process ones are not among them. */
export function jvmDeadlocksSection(result: AnalysisResult): string {
  const jvm = result.deadlocks.filter((d) => d.jvmReported);
  const found = result.deadlocks.length - jvm.length;
  const body =
    jvm.length === 0
      ? `<p>No dump carried a JVM-reported deadlock.${found > 0 ? ` The ${found} found here go through RPC calls, pools or barriers across threads or processes — waits the JVM cannot see.` : ''}</p>`
      : `<ul>${jvm
          .map(
            (d) =>
              `<li><b>${esc(d.kind)}</b> on ${listSome(d.nodes)}: ${listSome(
                d.cycle.map((s) => s.thread ?? s.pool ?? s.node),
              )}</li>`,
          )
          .join('')}</ul>`;
  return `<section id="jvm-deadlocks" class="card"><h2>JVM-reported deadlocks (${jvm.length})</h2>${body}</section>`;
}

export function poolsSection(result: AnalysisResult): string {
  const pools = result.pools
    .filter((p) => p.exhausted || p.saturated)
    .sort((a, b) => Number(b.exhausted) - Number(a.exhausted) || b.busy - a.busy || b.size - a.size);
  if (pools.length === 0)
    return `<section id="pools" class="card"><h2>Exhausted pools</h2><p class="muted">No pool was exhausted or saturated.</p></section>`;
  // Pools alike in every figure on many nodes (one subprocedure pool per worker) are one row.
  const rows = new Map<string, { pool: PoolSummary; nodes: string[] }>();
  for (const p of pools) {
    const perSample = p.perSample.map((s) => `${s.busy}/${s.size}`).join(' ');
    const key = [p.pool, p.family, p.exhausted, p.size, p.busy, p.blocked, p.progressing, p.queued, perSample].join(
      '\u0000',
    );
    const row = rows.get(key);
    if (row) row.nodes.push(p.node);
    else rows.set(key, { pool: p, nodes: [p.node] });
  }
  const html = [...rows.values()]
    .slice(0, MAX_POOL_ROWS)
    .map(({ pool: p, nodes }) => {
      const where = nodes.length === 1 ? esc(p.node) : `<b>${nodes.length} nodes</b>: ${listSome(nodes, 4)}`;
      return (
        `<tr data-node="${esc(p.node)}" data-nodes="${nodes.length}"><td>${where}</td><td class="mono">${esc(p.pool)}</td><td>${esc(p.family)}</td>` +
        `<td><span class="tag ${p.exhausted ? 'blocked' : 'running-stuck'}">${p.exhausted ? 'exhausted' : 'saturated'}</span></td>` +
        `<td class="num">${p.busy}/${p.size}</td><td class="num">${p.blocked}</td><td class="num">${p.progressing}</td>` +
        `<td class="num">${p.queued ?? ''}</td><td class="mono">${esc(p.perSample.map((s) => `${s.busy}/${s.size}`).join(' '))}</td></tr>`
      );
    })
    .join('');
  const more =
    rows.size > MAX_POOL_ROWS ? `<p class="muted">${rows.size - MAX_POOL_ROWS} more rows not shown.</p>` : '';
  return (
    `<section id="pools" class="card"><h2>Exhausted pools (${pools.filter((p) => p.exhausted).length})</h2>` +
    `<p class="muted small">Exhausted: every handler busy in every sample and none progressing. Saturated: no idle handler in some sample.</p>` +
    `<table class="data"><thead><tr><th>node</th><th>pool</th><th>family</th><th>status</th><th class="num">busy</th>` +
    `<th class="num">blocked</th><th class="num">progressing</th><th class="num">queued</th><th>busy per sample</th></tr></thead>` +
    `<tbody>${html}</tbody></table>${more}</section>`
  );
}

interface StuckGroup {
  frames: string[];
  cls: string;
  threads: { node: string; name: string; pool?: string; index: number }[];
}

/** Stuck threads grouped by their (unchanging) stack: 29 handlers in the same wait are one line. */
export function stuckSection(result: AnalysisResult): string {
  const groups = new Map<string, StuckGroup>();
  const detail = result.detail;
  if (detail) {
    detail.threads.forEach((t, index) => {
      if (t.class !== 'blocked' && t.class !== 'running-stuck') return;
      const last = [...t.samples].reverse().find((s) => s !== null);
      if (!last) return;
      const key = `${t.class}\u0000${last.stack}`;
      let g = groups.get(key);
      if (g === undefined)
        groups.set(key, (g = { frames: detail.stacks[last.stack] ?? [], cls: t.class, threads: [] }));
      g.threads.push({ node: t.node, name: t.name, ...(t.pool !== undefined ? { pool: t.pool } : {}), index });
    });
  } else {
    for (const s of result.stuck) {
      const key = `${s.state}\u0000${s.frame}`;
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { frames: [s.frame], cls: s.state, threads: [] }));
      g.threads.push({ node: s.node, name: s.thread, ...(s.pool !== undefined ? { pool: s.pool } : {}), index: -1 });
    }
  }
  const list = [...groups.values()].sort((a, b) => b.threads.length - a.threads.length);
  if (list.length === 0)
    return `<section id="stuck" class="card"><h2>Stuck stacks</h2><p class="muted">No thread kept the same stack over the whole span while busy.</p></section>`;
  const items = list
    .slice(0, MAX_STUCK_GROUPS)
    .map((g) => {
      const nodes = [...new Set(g.threads.map((t) => t.node))];
      const pools = [...new Set(g.threads.map((t) => t.pool).filter((p): p is string => p !== undefined))];
      const names = g.threads.map((t) => t.name);
      const first = g.threads[0]!;
      return (
        `<tr><td class="num"><b>${g.threads.length}</b></td><td><span class="tag ${esc(g.cls)}">${esc(g.cls)}</span></td>` +
        `<td><details><summary class="mono">${esc(ellipsize(g.frames[0] ?? '(no frames)', 110))}</summary>` +
        `<pre class="frames">${esc(g.frames.join('\n'))}</pre></details>` +
        `<div class="small muted">threads: ${listSome(names, 4)}${first.index >= 0 ? ` <button class="link show-thread" data-thread="${first.index}">show stacks</button>` : ''}</div></td>` +
        `<td class="small">${listSome(nodes, 5)}</td><td class="small nowrap">${listSome(pools, 3)}</td></tr>`
      );
    })
    .join('');
  const more =
    list.length > MAX_STUCK_GROUPS
      ? `<p class="muted">${list.length - MAX_STUCK_GROUPS} more stacks not shown.</p>`
      : '';
  return (
    `<section id="stuck" class="card"><h2>Stuck stacks (${result.stuckTotal} threads, ${list.length} distinct stacks)</h2>` +
    `<table class="data"><thead><tr><th class="num">threads</th><th>class</th><th>stack (innermost frame first)</th><th>nodes</th><th>pools</th></tr></thead>` +
    `<tbody>${items}</tbody></table>${more}</section>`
  );
}

/** The hottest threads by CPU between their first and last sample (hidden when none). */
export function hotThreadsSection(result: AnalysisResult): string {
  const hot = result.hotThreads ?? [];
  if (hot.length === 0) return '';
  const rows = hot
    .map(
      (h) =>
        `<tr><td>${esc(h.node)}</td><td class="mono">${esc(h.thread)}</td><td class="num">${h.cpuMsDelta.toFixed(0)}</td>` +
        `<td class="num">${Math.round(h.coreShare * 100)}%</td></tr>`,
    )
    .join('');
  return (
    `<section id="hot" class="card"><h2>Hot threads</h2><p class="muted small">CPU each thread used between its first and last sample.</p>` +
    `<table class="data"><thead><tr><th>node</th><th>thread</th><th class="num">CPU ms</th><th class="num">of a core</th></tr></thead>` +
    `<tbody>${rows}</tbody></table></section>`
  );
}

const MAX_PREDICTIONS_SHOWN = 20;

/** `--predict`: each latent deadlock with when it fires, its path and the waits seen on it. */
export function predictionsSection(result: AnalysisResult): string {
  const list = result.predictions;
  if (list === undefined) return '';
  const head = `<section id="predictions" class="card"><h2>Predicted deadlocks (${list.length})</h2>`;
  if (list.length === 0)
    return `${head}<p class="muted">No cycle through a bounded pool in the observed waits. A wait is seen only when a sample catches it: more rounds of a busy cluster see more.</p></section>`;
  const items = list
    .slice(0, MAX_PREDICTIONS_SHOWN)
    .map((p, i) => predictionItem(p, i))
    .join('');
  const more =
    list.length > MAX_PREDICTIONS_SHOWN
      ? `<p class="muted">${list.length - MAX_PREDICTIONS_SHOWN} more not shown (see --json).</p>`
      : '';
  return (
    head +
    `<p class="muted small">Latent deadlocks: the waits seen in these samples form a cycle through a bounded pool that comes back into it through a call. ` +
    `Nothing is stuck yet; it fires once every handler of the pool can be parked on the cycle at once.</p>${items}${more}</section>`
  );
}

function predictionItem(p: Prediction, i: number): string {
  const rows = p.path
    .map(
      (s, k) =>
        `<tr><td class="num">${k + 1}</td><td class="mono">${esc(s.pool ?? s.thread ?? s.role)}</td><td class="mono">${esc(s.serving ?? '')}</td>` +
        `<td class="wrap">${esc(s.waitsOn)}</td></tr>`,
    )
    .join('');
  const evidence = p.evidence
    .map(
      (e) =>
        `<li><span class="mono">${esc(e.from)}</span>${e.serving !== undefined ? ` serving <span class="mono">${esc(e.serving)}</span>` : ''} ` +
        `waits on ${esc(e.waitsOn)} → <span class="mono">${esc(e.to)}</span> <span class="muted">(${e.observed}× in samples ${esc(e.samples.join(', '))})</span>` +
        `<div class="small muted">threads: ${listSome(e.threads, 4)}</div><pre class="frames">${esc(e.frames.join('\n'))}</pre></li>`,
    )
    .join('');
  const confirm =
    p.confirm !== undefined
      ? `<p class="small">Confirm it in the simulator (same code, virtual time): <code>${esc(p.confirm)}</code></p>`
      : '';
  return (
    `<div class="prediction" data-pool="${esc(p.pool)}"><h3>#${i + 1} ${esc(p.pool)} <span class="tag">${esc(p.confidence)} confidence</span></h3>` +
    `<p><b>${p.size}</b> handlers; deadlocks ${esc(firesText(p))}.</p>` +
    `<p class="small muted">${esc(p.confidenceWhy)}</p>` +
    `<table class="data chain"><thead><tr><th class="num">#</th><th>pool / thread</th><th>serving</th><th>waits on</th></tr></thead>` +
    `<tbody>${rows}<tr><td class="num">↺</td><td class="mono">${esc(p.pool)}</td><td></td><td></td></tr></tbody></table>` +
    `<details><summary>evidence: ${esc(seenText(p))}</summary><ul class="evidence">${evidence}</ul></details>${confirm}</div>`
  );
}
