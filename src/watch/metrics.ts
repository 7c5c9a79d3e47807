// Prometheus exposition of a watch (prom-client): what every round captured, what the current
// window's analysis says per node and pool, and the alerts raised. Label values come from target
// and pool names, so their number is bounded: at most MAX_METRIC_NODES nodes and
// MAX_METRIC_POOLS_PER_NODE pools per node (the busiest first; the rest are counted in
// rollcall_watch_pools_omitted). Per-node and per-pool series are rebuilt from each window, so a
// pool or node that goes away leaves no series behind.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AnalysisResult, PoolSummary, Verdict } from '../diagnose/result.js';

export const MAX_METRIC_NODES = 1000;
export const MAX_METRIC_POOLS_PER_NODE = 32;
export const VERDICTS: readonly Verdict[] = ['healthy', 'slow', 'stuck', 'deadlock'];
/** Thread classes of the analysis, as `state` label values of rollcall_threads. */
export const THREAD_STATES = ['blocked', 'running-stuck', 'waiting', 'progressing', 'idle'] as const;
/** Seconds: from 0.1 ms (attach on an idle machine) to 1 s (jcmd, or a far agent). */
const SKEW_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const ANALYSIS_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Bounds on the metrics listener, as on the admin listener. */
export const METRICS_SERVER_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 64,
} as const;

export class WatchMetrics {
  readonly registry = new Registry();
  private readonly rounds: Counter;
  private readonly skipped: Counter;
  private readonly captureErrors: Counter<'node'>;
  private readonly targetUp: Gauge<'node'>;
  private readonly skew: Histogram;
  private readonly analysisSeconds: Histogram;
  private readonly threads: Gauge<'node' | 'state'>;
  private readonly poolThreads: Gauge<'node' | 'pool' | 'state'>;
  private readonly poolSize: Gauge<'node' | 'pool'>;
  private readonly poolsOmitted: Gauge;
  private readonly alerts: Counter<'verdict'>;
  private readonly verdict: Gauge<'verdict'>;

  /** processMetrics: also the process's own CPU, memory and event-loop metrics (prom-client's defaults). */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.rounds = new Counter({ name: 'rollcall_watch_rounds_total', help: 'Capture rounds taken', registers });
    this.skipped = new Counter({
      name: 'rollcall_watch_rounds_skipped_total',
      help: 'Round instants passed without a capture (the previous rounds were still being analyzed)',
      registers,
    });
    this.captureErrors = new Counter({
      name: 'rollcall_watch_capture_errors_total',
      help: 'Captures that failed (target dead, slow, refused, or answering with no thread dump)',
      labelNames: ['node'],
      registers,
    });
    this.targetUp = new Gauge({
      name: 'rollcall_watch_target_up',
      help: '1 when the last capture of the target gave a thread dump, else 0',
      labelNames: ['node'],
      registers,
    });
    this.skew = new Histogram({
      name: 'rollcall_watch_capture_skew_seconds',
      help: 'Spread of the instants at which a round reached its targets',
      buckets: SKEW_BUCKETS_S,
      registers,
    });
    this.analysisSeconds = new Histogram({
      name: 'rollcall_watch_analysis_seconds',
      help: 'Time to parse a round and analyze its window',
      buckets: ANALYSIS_BUCKETS_S,
      registers,
    });
    this.threads = new Gauge({
      name: 'rollcall_threads',
      help: 'Threads per node by class over the current window (blocked, running-stuck, waiting, progressing, idle)',
      labelNames: ['node', 'state'],
      registers,
    });
    this.poolThreads = new Gauge({
      name: 'rollcall_pool_threads',
      help: 'Pool threads by state: busy and idle in the last sample, blocked over the window',
      labelNames: ['node', 'pool', 'state'],
      registers,
    });
    this.poolSize = new Gauge({
      name: 'rollcall_pool_size',
      help: 'Threads of the pool in the last sample',
      labelNames: ['node', 'pool'],
      registers,
    });
    this.poolsOmitted = new Gauge({
      name: 'rollcall_watch_pools_omitted',
      help: `Pools left out of the pool metrics (beyond ${MAX_METRIC_POOLS_PER_NODE} per node or ${MAX_METRIC_NODES} nodes)`,
      registers,
    });
    this.alerts = new Counter({
      name: 'rollcall_watch_alerts_total',
      help: 'Alerts raised (a condition confirmed in consecutive windows), by verdict',
      labelNames: ['verdict'],
      registers,
    });
    this.verdict = new Gauge({
      name: 'rollcall_watch_verdict',
      help: "1 for the current window's verdict, 0 for the others",
      labelNames: ['verdict'],
      registers,
    });
    for (const v of VERDICTS) this.verdict.set({ verdict: v }, 0);
    this.alerts.inc({ verdict: 'deadlock' }, 0);
    this.alerts.inc({ verdict: 'stuck' }, 0);
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /** Declares the targets, so their counters exist (at 0) before anything fails. */
  targets(names: readonly string[]): void {
    for (const node of names.slice(0, MAX_METRIC_NODES)) this.captureErrors.inc({ node }, 0);
  }

  round(skewMs: number, captured: readonly string[], failed: readonly string[]): void {
    this.rounds.inc();
    this.skew.observe(skewMs / 1000);
    for (const node of captured.slice(0, MAX_METRIC_NODES)) this.targetUp.set({ node }, 1);
    for (const node of failed.slice(0, MAX_METRIC_NODES)) {
      this.captureErrors.inc({ node });
      this.targetUp.set({ node }, 0);
    }
  }

  skippedRounds(n: number): void {
    this.skipped.inc(n);
  }

  analysis(result: AnalysisResult, seconds: number): void {
    this.analysisSeconds.observe(seconds);
    this.threads.reset();
    for (const n of result.nodes.slice(0, MAX_METRIC_NODES)) {
      const byState: Record<(typeof THREAD_STATES)[number], number> = {
        blocked: n.blocked,
        'running-stuck': n.runningStuck,
        waiting: n.waiting,
        progressing: n.progressing,
        idle: n.idle,
      };
      for (const state of THREAD_STATES) this.threads.set({ node: n.name, state }, byState[state]);
    }
    this.poolThreads.reset();
    this.poolSize.reset();
    const { shown, omitted } = boundPools(result.pools);
    for (const p of shown) {
      const labels = { node: p.node, pool: p.pool };
      this.poolSize.set(labels, p.size);
      this.poolThreads.set({ ...labels, state: 'busy' }, p.busy);
      this.poolThreads.set({ ...labels, state: 'idle' }, p.idle);
      this.poolThreads.set({ ...labels, state: 'blocked' }, p.blocked);
    }
    this.poolsOmitted.set(omitted);
    for (const v of VERDICTS) this.verdict.set({ verdict: v }, v === result.verdict ? 1 : 0);
  }

  alert(verdict: 'deadlock' | 'stuck'): void {
    this.alerts.inc({ verdict });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The pools that get series: per node the exhausted, then the largest, up to the bounds. */
export function boundPools(pools: readonly PoolSummary[]): { shown: PoolSummary[]; omitted: number } {
  const byNode = new Map<string, PoolSummary[]>();
  for (const p of pools) {
    let list = byNode.get(p.node);
    if (list === undefined) {
      if (byNode.size >= MAX_METRIC_NODES) continue;
      byNode.set(p.node, (list = []));
    }
    list.push(p);
  }
  const shown: PoolSummary[] = [];
  for (const list of byNode.values()) {
    list.sort((a, b) => Number(b.exhausted) - Number(a.exhausted) || b.size - a.size);
    shown.push(...list.slice(0, MAX_METRIC_POOLS_PER_NODE));
  }
  return { shown, omitted: pools.length - shown.length };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text) on host:port; port 0 takes any free port. */
export async function startMetricsServer(metrics: WatchMetrics, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('only GET\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  server.keepAliveTimeout = METRICS_SERVER_LIMITS.keepAliveTimeoutMs;
  server.headersTimeout = METRICS_SERVER_LIMITS.headersTimeoutMs;
  server.requestTimeout = METRICS_SERVER_LIMITS.requestTimeoutMs;
  server.maxConnections = METRICS_SERVER_LIMITS.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
