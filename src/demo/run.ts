// `rollcall demo`: the whole story on one machine, in under a minute. On an in-process cluster
// over real TCP: (a) legacy rolllog deadlocks at scale; synchronized dumps of every node prove it;
// (b) the online detector proves it in well under a second; (c) a 3-worker run predicts the
// cluster size at which it fires; (d) fixed mode is fast; (e) the simulator shows the cliff from
// 5 to 200 workers. Writes DIR/index.html (the analysis report plus charts) and DIR/bundle.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Prediction } from '../detect/index.js';
import { analyzeInputs } from '../diagnose/inputs.js';
import type { AnalysisResult, DeadlockOut } from '../diagnose/result.js';
import { captureBundle } from '../capture/index.js';
import type { BundleManifest } from '../dumps/index.js';
import { lineChartSvg, sweepChartSvg } from '../report/charts.js';
import { renderHtmlReport } from '../report/html/index.js';
import { combineHooks, detectHooks, predictHooks } from '../runtime/detect.js';
import { runRolllog, type RolllogContext, type RolllogReport, type RunReport } from '../runtime/rolllog.js';
import { cliffs, sweep, sweepChartPoints, type SweepPoint } from '../sim/sweep.js';
import { mkdirp } from '../substrate/real/disk.js';

export interface DemoOptions {
  outDir: string;
  /** Workers of the big cluster. */
  nodes: number;
  handlers: number;
  /** The legacy run's RPC and procedure timeout in step (a): production's is 60,000 ms. */
  timeoutMs: number;
  fixedRuns: number;
  /** Sweep sizes for the simulation (default 5..200 step 5). */
  sweepSizes: number[];
  /** Progress lines (a terminal shows them; --json runs keep stdout clean). */
  progress: (step: number, total: number, text: string) => void;
  log?: (message: string) => void;
}

export interface DemoSummary {
  nodes: number;
  handlers: number;
  legacy: {
    outcome: string;
    durationMs: number;
    timeoutMs: number;
    verdict: string;
    samples: number;
    maxSkewMs: number;
    cycle?: DeadlockOut;
    exhaustedPools: string[];
  };
  /** `attempts`: legacy runs until one deadlocked (a run whose checks did not overlap completes). */
  detect: { outcome: string; detectedAfterMs?: number; durationMs: number; timeoutMs: number; attempts: number };
  predict: { workers: number; outcome: string; durationMs: number; prediction?: Prediction };
  fixed: { runs: number; ok: number; p50Ms: number; p99Ms: number; maxMs: number };
  sweep: {
    sizes: number[];
    legacyLastOk?: number;
    legacyFirstFail?: number;
    fixedMaxMs: number;
    wallMs: number;
  };
  report: string;
  bundle: string;
  wallMs: number;
}

const PRODUCTION_TIMEOUT_MS = 60_000;
const STEPS = 6;
/** Legacy runs with the detector tried until the checks overlap and the deadlock forms. */
const MAX_DETECT_ATTEMPTS = 3;

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const t0 = performance.now();
  // Not Node's recursive mkdir: it spins for ever on paths such as /proc/x.
  await mkdirp(o.outDir);
  const bundleDir = path.join(o.outDir, 'bundle');

  // (a) Legacy rolllog at scale, with synchronized dumps of every node while it hangs.
  o.progress(
    1,
    STEPS,
    `legacy rolllog on ${o.nodes} workers, ${o.handlers} master handlers; capturing every node's /stacks while it hangs`,
  );
  let manifest: BundleManifest | undefined;
  const capture = {
    afterCapture: undefined as Promise<BundleManifest> | undefined,
    beforeRun(ctx: RolllogContext) {
      const urls = [
        { name: ctx.status.master.name, url: ctx.status.master.adminUrl },
        ...ctx.status.members.map((m) => ({ name: m.name, url: m.adminUrl })),
      ].filter((t): t is { name: string; url: string } => typeof t.url === 'string');
      // Start just after the deadlock forms (the checks arrive within ~30 ms of the roll).
      this.afterCapture = captureBundle({
        targets: urls.map((t) => ({ name: t.name, kind: 'url' as const, spec: `${t.url}/stacks` })),
        intervalMs: 1_000,
        count: 3,
        outDir: bundleDir,
        force: true,
        startAtMs: Date.now() + 400,
        timeoutMs: 5_000,
      });
    },
    async afterRun() {
      manifest = await this.afterCapture;
    },
  };
  const legacy = await runRolllog({
    nodes: o.nodes,
    mode: 'legacy',
    runs: 1,
    handlers: o.handlers,
    rpcTimeoutMs: o.timeoutMs,
    procedureTimeoutMs: o.timeoutMs,
    hooks: capture,
    ...(o.log ? { log: o.log } : {}),
  });
  if (!manifest) throw new Error('the capture did not finish');
  o.progress(
    2,
    STEPS,
    `analyzing ${manifest.captures.length} dumps (${manifest.targets.length} nodes × ${manifest.count} rounds)`,
  );
  const { result } = await analyzeInputs([bundleDir], { detail: true });

  // (b) The same incident with online detection: proven long before the production timeout.
  o.progress(3, STEPS, `legacy rolllog again, with the online deadlock detector (timeout ${PRODUCTION_TIMEOUT_MS} ms)`);
  // The deadlock needs the workers' checks to overlap; on a loaded machine they can arrive far
  // enough apart that a run completes. Such a run proves nothing either way: try again (bounded).
  let detected: Awaited<ReturnType<typeof runRolllog>>;
  let detectAttempts = 0;
  do {
    detectAttempts++;
    detected = await runRolllog({
      nodes: o.nodes,
      mode: 'legacy',
      runs: 1,
      handlers: o.handlers,
      rpcTimeoutMs: PRODUCTION_TIMEOUT_MS,
      procedureTimeoutMs: PRODUCTION_TIMEOUT_MS,
      hooks: detectHooks(),
      ...(o.log ? { log: o.log } : {}),
    });
  } while (detected.runs[0]!.outcome === 'ok' && detectAttempts < MAX_DETECT_ATTEMPTS);

  // (c) Prediction from the staging-sized cluster that never deadlocks.
  o.progress(4, STEPS, 'legacy rolllog on 3 workers with the latent-deadlock predictor');
  const predicted = await runRolllog({
    nodes: 3,
    mode: 'legacy',
    runs: 1,
    handlers: o.handlers,
    hooks: predictHooks(),
    ...(o.log ? { log: o.log } : {}),
  });
  const prediction = (predicted.predictions as Prediction[] | undefined)?.[0];

  // (d) The fix.
  o.progress(5, STEPS, `fixed mode on ${o.nodes} workers, ${o.fixedRuns} runs`);
  const fixed = await runRolllog({
    nodes: o.nodes,
    mode: 'fixed',
    runs: o.fixedRuns,
    handlers: o.handlers,
    hooks: combineHooks(),
    ...(o.log ? { log: o.log } : {}),
  });

  // (e) The scale cliff, simulated with the same node code.
  o.progress(
    6,
    STEPS,
    `simulated sweep ${o.sweepSizes[0]}..${o.sweepSizes[o.sweepSizes.length - 1]} workers, both modes`,
  );
  const sweepStart = performance.now();
  // Probe right around the predicted threshold too, so the chart shows the exact cliff.
  const around = prediction?.firesAtNodes
    ? [-1, 0, 1].map((d) => prediction.firesAtNodes! + d).filter((n) => n >= 1)
    : [];
  const sizes = [...new Set([...o.sweepSizes, ...around])].sort((a, b) => a - b);
  const points = await sweep({ sizes, modes: ['legacy', 'fixed'], handlers: [o.handlers], seed: 1 });
  const sweepWallMs = performance.now() - sweepStart;
  const cliff = cliffs(points).find((c) => c.mode === 'legacy');

  const summary: DemoSummary = {
    nodes: o.nodes,
    handlers: o.handlers,
    legacy: {
      outcome: legacy.runs[0]!.outcome,
      durationMs: round1(legacy.runs[0]!.durationMs),
      timeoutMs: o.timeoutMs,
      verdict: result.verdict,
      samples: result.samples,
      maxSkewMs: round1(Math.max(0, ...manifest.rounds.map((r) => r.skewMs ?? 0))),
      ...(result.deadlocks[0] ? { cycle: result.deadlocks[0] } : {}),
      exhaustedPools: result.pools.filter((p) => p.exhausted).map((p) => `${p.node}/${p.pool}`),
    },
    detect: {
      attempts: detectAttempts,
      outcome: detected.runs[0]!.outcome,
      ...(detected.runs[0]!.detectedAfterMs !== undefined
        ? { detectedAfterMs: detected.runs[0]!.detectedAfterMs }
        : {}),
      durationMs: round1(detected.runs[0]!.durationMs),
      timeoutMs: PRODUCTION_TIMEOUT_MS,
    },
    predict: {
      workers: 3,
      outcome: predicted.runs[0]!.outcome,
      durationMs: round1(predicted.runs[0]!.durationMs),
      ...(prediction ? { prediction } : {}),
    },
    fixed: { runs: fixed.runs.length, ...fixed.summary },
    sweep: {
      sizes,
      ...(cliff ? { legacyLastOk: cliff.lastOk, legacyFirstFail: cliff.firstFail } : {}),
      fixedMaxMs: round1(Math.max(0, ...points.filter((p) => p.mode === 'fixed').map((p) => p.durationMs))),
      wallMs: Math.round(sweepWallMs),
    },
    report: path.join(o.outDir, 'index.html'),
    bundle: bundleDir,
    wallMs: 0,
  };
  const html = renderHtmlReport(result, {
    title: `rollcall demo — rolllog on ${o.nodes} workers`,
    sections: await demoSections(summary, fixed, points, prediction),
    sectionsFirst: true,
    footer: `generated by rollcall demo · ${new Date().toISOString()}`,
  });
  writeFileSync(summary.report, html);
  summary.wallMs = Math.round(performance.now() - t0);
  return summary;
}

async function demoSections(
  s: DemoSummary,
  fixed: RolllogReport,
  points: SweepPoint[],
  prediction: Prediction | undefined,
): Promise<{ id: string; title: string; html: string }[]> {
  const latency = await lineChartSvg(
    fixed.runs.map((r: RunReport, i: number) => ({ x: i + 1, y: r.durationMs, series: `fixed, ${s.nodes} workers` })),
    {
      title: `Fixed-mode rolllog latency, ${s.nodes} workers over real TCP`,
      xTitle: 'run',
      yTitle: 'duration (ms)',
      rules: [{ y: s.fixed.p50Ms, label: `p50 ${s.fixed.p50Ms.toFixed(1)} ms` }],
    },
  );
  const sweepSvg = await sweepChartSvg(sweepChartPoints(points), {
    timeoutMs: PRODUCTION_TIMEOUT_MS,
    ...(prediction?.firesAtNodes
      ? { markers: [{ x: prediction.firesAtNodes, label: 'predicted from 3 workers', color: '#8e44ad' }] }
      : {}),
  });
  return [
    {
      id: 'story',
      title: 'What happened',
      html: `<pre class="demo-summary" style="white-space:pre-wrap;overflow-wrap:anywhere">${escapeHtml(formatDemoSummary(s))}</pre>`,
    },
    { id: 'latency', title: 'The fix: fixed-mode latency', html: latency },
    { id: 'sweep', title: 'The scale cliff (simulated, same node code)', html: sweepSvg },
  ];
}

export function formatDemoSummary(s: DemoSummary): string {
  const out: string[] = [];
  const l = s.legacy;
  out.push(
    `rollcall demo: the HBase rolllog incident on ${s.nodes} workers and ${s.handlers} master handlers, reproduced, proven and fixed`,
  );
  out.push('');
  out.push(
    `1. legacy rolllog: ${l.outcome} after ${fmtMs(l.durationMs)} — the timeout wall (${fmtMs(l.timeoutMs)} here, ${fmtMs(PRODUCTION_TIMEOUT_MS)} in production)`,
  );
  out.push(
    `   ${s.nodes + 1} nodes' /stacks captured ${l.samples}× at the same instants (max skew ${l.maxSkewMs} ms) → verdict ${l.verdict.toUpperCase()}`,
  );
  if (l.cycle) {
    out.push(`   cycle (${l.cycle.kind}, ${l.cycle.nodes.length} nodes):`);
    for (const step of l.cycle.cycle.slice(0, 6)) {
      out.push(`     ${step.node}/${step.thread ?? `pool ${step.pool ?? '?'}`}  —[${step.via}]→  ${step.waitsFor}`);
    }
    if (l.cycle.cycle.length > 6) out.push(`     … ${l.cycle.cycle.length - 6} more steps`);
  }
  if (l.exhaustedPools.length > 0) {
    const master = l.exhaustedPools.filter((p) => p.startsWith('master/'));
    out.push(
      `   exhausted pools: ${[...master, ...l.exhaustedPools.filter((p) => !p.startsWith('master/'))].slice(0, 3).join(', ')}${l.exhaustedPools.length > 3 ? ` and ${l.exhaustedPools.length - 3} more` : ''}`,
    );
  }
  const d = s.detect;
  out.push(
    d.detectedAfterMs !== undefined
      ? `2. with online detection: deadlock proven after ${fmtMs(d.detectedAfterMs)} (timeout ${fmtMs(d.timeoutMs)}); procedure aborted, every worker released${d.attempts > 1 ? ` (run ${d.attempts}: in ${d.attempts - 1} before, the checks did not overlap and rolllog completed)` : ''}`
      : `2. with online detection: ${d.outcome} after ${fmtMs(d.durationMs)} (no deadlock proven)`,
  );
  const p = s.predict;
  out.push(
    p.prediction
      ? `3. ${p.workers} workers with prediction: ${p.outcome} in ${fmtMs(p.durationMs)} — predicts the deadlock from ${p.prediction.firesAtNodes} workers (${p.prediction.pool}, ${p.prediction.firesAtConcurrency} concurrent callbacks)`
      : `3. ${p.workers} workers with prediction: ${p.outcome} in ${fmtMs(p.durationMs)} — no latent deadlock predicted`,
  );
  const f = s.fixed;
  out.push(
    `4. fixed mode (no callback): ${f.ok}/${f.runs} ok, p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms on ${s.nodes} workers`,
  );
  const w = s.sweep;
  out.push(
    `5. simulated ${w.sizes[0]}..${w.sizes[w.sizes.length - 1]} workers: legacy ok up to ${w.legacyLastOk ?? '?'} and fails at the ${fmtMs(PRODUCTION_TIMEOUT_MS)} wall from ${w.legacyFirstFail ?? '?'}; fixed ok everywhere (max ${w.fixedMaxMs} ms virtual); ${(w.wallMs / 1000).toFixed(1)} s wall`,
  );
  out.push('');
  out.push(`report: ${s.report}`);
  out.push(`bundle: ${s.bundle} (rollcall analyze ${s.bundle})`);
  return out.join('\n');
}

function fmtMs(ms: number): string {
  return `${Math.round(ms).toLocaleString('en-US')} ms`;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export type { AnalysisResult };
