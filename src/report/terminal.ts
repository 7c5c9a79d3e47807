// `rollcall analyze` for people: the verdict first, then the circular wait as a chain across nodes
// with its evidence, exhausted pools, the most common stuck stacks, apart from them the waiting
// ones, the hottest threads, predictions, a per-node table, and the --explain answers. Colour only
// when asked (the CLI asks on a TTY without NO_COLOR).
import type { HotThread } from '../diagnose/hot-threads.js';
import type {
  AnalysisResult,
  DeadlockOut,
  PoolSummary,
  Prediction,
  ThreadExplanation,
  Verdict,
} from '../diagnose/result.js';
import { firesText, pathText, seenText } from './predictions.js';

export interface TerminalReportOptions {
  color?: boolean;
  /** Evidence lines shown per cycle step. Default 3. */
  evidenceLines?: number;
  /** Per-node rows shown before "… N more". Default 100. */
  maxNodeRows?: number;
  /** Deadlocks shown in full. Default 5. */
  maxDeadlocks?: number;
  /** Cycle steps shown per deadlock. Default 12. */
  maxSteps?: number;
}

const ESC = '\u001b[';
type Paint = (s: string) => string;

function palette(color: boolean): Record<'red' | 'yellow' | 'green' | 'bold' | 'dim' | 'cyan', Paint> {
  const wrap =
    (code: string): Paint =>
    (s) =>
      color ? `${ESC}${code}m${s}${ESC}0m` : s;
  return {
    red: wrap('1;31'),
    yellow: wrap('1;33'),
    green: wrap('1;32'),
    bold: wrap('1'),
    dim: wrap('2'),
    cyan: wrap('36'),
  };
}

const VERDICT_TEXT: Record<Verdict, string> = {
  deadlock: 'DEADLOCK',
  stuck: 'STUCK',
  slow: 'SLOW',
  healthy: 'HEALTHY',
};

export function renderTerminal(result: AnalysisResult, options: TerminalReportOptions = {}): string {
  const c = palette(options.color === true);
  const out: string[] = [];
  const paintVerdict =
    result.verdict === 'deadlock' || result.verdict === 'stuck'
      ? c.red
      : result.verdict === 'slow'
        ? c.yellow
        : c.green;
  out.push(`${paintVerdict(VERDICT_TEXT[result.verdict])}  ${result.reason}`);
  const t = result.threads;
  out.push(
    c.dim(
      `${result.samples} sample${result.samples === 1 ? '' : 's'}${result.spanMs > 0 ? ` over ${formatMs(result.spanMs)}` : ''} · ${result.nodes.length} node${result.nodes.length === 1 ? '' : 's'} · ${t.total} threads: ${t.blocked} blocked, ${t.runningStuck} running-stuck, ${t.waiting} waiting, ${t.progressing} progressing, ${t.idle} idle`,
    ),
  );
  for (const n of result.notes) out.push(c.dim(`note: ${n}`));

  const maxDeadlocks = options.maxDeadlocks ?? 5;
  result.deadlocks.slice(0, maxDeadlocks).forEach((d, i) => {
    out.push('');
    out.push(renderDeadlock(d, i, c, options));
  });
  if (result.deadlocks.length > maxDeadlocks)
    out.push(c.dim(`… ${result.deadlocks.length - maxDeadlocks} more deadlocks (see --json)`));
  if (result.predictions !== undefined) out.push('', ...renderPredictions(result.predictions, c));

  const exhausted = result.pools.filter((p) => p.exhausted);
  const saturated = result.pools.filter((p) => !p.exhausted && p.saturated);
  if (exhausted.length > 0) {
    out.push('', c.bold('Exhausted pools') + c.dim(' (every handler busy in every sample, none progressing)'));
    for (const p of exhausted.slice(0, 30)) out.push(`  ${c.red(poolLine(p))}`);
    if (exhausted.length > 30) out.push(c.dim(`  … ${exhausted.length - 30} more`));
  }
  if (saturated.length > 0) {
    out.push('', c.bold('Saturated pools') + c.dim(' (no idle handler in some sample, but progressing)'));
    for (const p of saturated.slice(0, 15)) out.push(`  ${c.yellow(poolLine(p))}`);
    if (saturated.length > 15) out.push(c.dim(`  … ${saturated.length - 15} more`));
  }

  if (result.stuck.length > 0) {
    out.push(
      '',
      c.bold('Top stuck stacks') +
        c.dim(` (${result.stuckTotal} thread${result.stuckTotal === 1 ? '' : 's'} blocked or running-stuck)`),
    );
    out.push(...groupedFrames(result.stuck, 10, c));
  }
  if (result.waiting.length > 0) {
    out.push(
      '',
      c.bold('Waiting') +
        c.dim(
          ` (${result.waitingTotal} thread${result.waitingTotal === 1 ? '' : 's'} parked throughout on something nothing links to — a queue, a timer, a join: not stuck; --explain NODE/THREAD says why)`,
        ),
    );
    out.push(...groupedFrames(result.waiting, 5, c).map(c.dim));
  }

  const hot = result.hotThreads ?? [];
  if (hot.length > 0) {
    out.push('', c.bold('Hot threads') + c.dim(' (CPU between first and last sample)'));
    for (const h of hot.slice(0, MAX_HOT_LINES)) out.push(`  ${hotLine(h)}`);
  }

  out.push('', c.bold('Nodes'));
  const rows: string[][] = [
    ['node', 'samples', 'threads/sample', 'blocked', 'stuck-run', 'waiting', 'progressing', 'idle'],
  ];
  const maxRows = options.maxNodeRows ?? 100;
  // Natural order (node2 before node10) for reading; JSON keeps input order.
  const ordered = [...result.nodes].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  for (const n of ordered.slice(0, maxRows)) {
    rows.push([
      n.name,
      String(n.threadsPerSample.length),
      compactList(n.threadsPerSample),
      String(n.blocked),
      String(n.runningStuck),
      String(n.waiting),
      String(n.progressing),
      String(n.idle),
    ]);
  }
  out.push(...table(rows).map((l, i) => (i === 0 ? c.dim(`  ${l}`) : `  ${l}`)));
  if (result.nodes.length > maxRows) out.push(c.dim(`  … ${result.nodes.length - maxRows} more nodes (see --json)`));
  for (const x of result.explanations ?? []) out.push('', ...renderExplanation(x, c));
  return out.join('\n') + '\n';
}

/** Threads grouped by state and innermost frame: `30× blocked at X [master ×30]`. */
function groupedFrames(
  threads: readonly { node: string; frame: string; state?: string }[],
  max: number,
  c: ReturnType<typeof palette>,
): string[] {
  const groups = new Map<string, { state: string; frame: string; count: number; nodes: Map<string, number> }>();
  for (const s of threads) {
    const state = s.state ?? 'waiting';
    const key = `${state}\u0000${s.frame}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { state, frame: s.frame, count: 0, nodes: new Map() }));
    g.count++;
    g.nodes.set(s.node, (g.nodes.get(s.node) ?? 0) + 1);
  }
  return [...groups.values()]
    .sort((a, b) => b.count - a.count)
    .slice(0, max)
    .map((g) => {
      const nodes = [...g.nodes.entries()].sort((a, b) => b[1] - a[1]);
      const where = nodes
        .slice(0, 3)
        .map(([n, k]) => `${n} ×${k}`)
        .join(', ');
      return `  ${String(g.count).padStart(5)}× ${g.state.padEnd(13)} ${g.frame}  ${c.dim(`[${where}${nodes.length > 3 ? `, +${nodes.length - 3} nodes` : ''}]`)}`;
    });
}

/** Predicted pools are few; each gets a headline, its path and what was seen of it. */
const MAX_PREDICTIONS_SHOWN = 10;

function renderPredictions(predictions: readonly Prediction[], c: ReturnType<typeof palette>): string[] {
  const head = c.bold('Predicted deadlocks');
  if (predictions.length === 0)
    return [`${head}${c.dim(': none — no cycle through a bounded pool in the observed waits')}`];
  const lines = [
    head + c.dim(' (latent: the observed waits cycle through a bounded pool; it fires with more load or more nodes)'),
  ];
  predictions.slice(0, MAX_PREDICTIONS_SHOWN).forEach((p, i) => {
    lines.push(
      `  ${c.bold(`${i + 1}.`)} ${c.yellow(p.pool)} (${p.size} handlers) deadlocks ${firesText(p)}  ${c.dim(`[${p.confidence} confidence]`)}`,
    );
    lines.push(`       ${pathText(p)}`);
    lines.push(c.dim(`       seen: ${seenText(p)}`));
    if (p.confidence !== 'high') lines.push(c.dim(`       ${p.confidenceWhy}`));
    if (p.confirm !== undefined) lines.push(c.dim(`       confirm in the simulator: ${p.confirm}`));
  });
  if (predictions.length > MAX_PREDICTIONS_SHOWN)
    lines.push(c.dim(`  … ${predictions.length - MAX_PREDICTIONS_SHOWN} more (see --json)`));
  return lines;
}

function renderExplanation(x: ThreadExplanation, c: ReturnType<typeof palette>): string[] {
  const paint =
    x.class === 'blocked' || x.class === 'running-stuck' ? c.red : x.class === 'waiting' ? c.yellow : c.green;
  return [`${c.bold(`${x.node}/${x.thread}`)}: ${paint(x.class)}`, ...x.evidence.map((e) => `  ${e}`)];
}

function renderDeadlock(
  d: DeadlockOut,
  i: number,
  c: ReturnType<typeof palette>,
  options: TerminalReportOptions,
): string {
  const lines: string[] = [];
  const maxSteps = options.maxSteps ?? 12;
  const evidenceLines = options.evidenceLines ?? 3;
  const extra = [
    `${d.memberCount} thread${d.memberCount === 1 ? '' : 's'}/pools in the cycle`,
    d.blockedBehindCount > 0 ? `${d.blockedBehindCount} more blocked behind it` : '',
    d.jvmReported ? 'also reported by the JVM' : '',
  ].filter((x) => x.length > 0);
  lines.push(
    c.red(`Deadlock ${i + 1}: ${d.kind}`) +
      ` across ${d.nodes.length > 6 ? `${d.nodes.slice(0, 6).join(', ')}, … (${d.nodes.length} nodes)` : d.nodes.join(', ')}` +
      c.dim(` — ${extra.join('; ')}`),
  );
  d.cycle.slice(0, maxSteps).forEach((s, k) => {
    const who = s.thread !== undefined ? `"${s.thread}"` : `[${s.pool ?? '?'}]`;
    lines.push(`  ${c.bold(`${k + 1}.`)} ${c.cyan(s.node)} ${who}`);
    lines.push(`       waits for ${c.cyan(s.waitsFor)}`);
    lines.push(c.dim(`       via ${s.via}`));
    for (const e of s.evidence.slice(0, evidenceLines)) lines.push(c.dim(`         ${clip(e, MAX_EVIDENCE_CHARS)}`));
  });
  if (d.cycle.length > maxSteps) lines.push(c.dim(`  … ${d.cycle.length - maxSteps} more steps`));
  if (d.cycle.length > 0)
    lines.push(c.dim(`  ↺ back to ${d.cycle[0]!.node} "${d.cycle[0]!.thread ?? d.cycle[0]!.pool ?? ''}"`));
  return lines.join('\n');
}

const MAX_HOT_LINES = 5;

/** `rs1/"RpcServer.handler=3" 812 ms CPU, 95% of a core`. */
export function hotLine(h: HotThread): string {
  return `${h.node}/"${h.thread}" ${h.cpuMsDelta.toFixed(0)} ms CPU, ${Math.round(h.coreShare * 100)}% of a core`;
}

/** Evidence lines are cut for the terminal (a barrier can list 64 members); --json has them whole. */
const MAX_EVIDENCE_CHARS = 240;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function poolLine(p: PoolSummary): string {
  return `${p.node}/${p.pool}: ${p.busy}/${p.size} busy, ${p.blocked} blocked, ${p.progressing} progressing${p.queued !== undefined && p.queued > 0 ? `, ${p.queued} calls queued` : ''}`;
}

function compactList(xs: number[]): string {
  if (xs.length <= 6) return xs.join(',');
  return `${xs.slice(0, 3).join(',')},…,${xs[xs.length - 1]}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows.map((r) =>
    r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  '),
  );
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}
