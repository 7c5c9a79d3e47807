// rolllog over ZooKeeper beside the RPC transport: fixed mode at 10 and 60 in-process workers
// (real TCP, real fsync, a real ZooKeeper server), p50/p99 and where a run's time goes; then the
// time to detect a member that dies inside the barrier: ZooKeeper session expiry vs the RPC
// transport's procedure timer (60 s by default, as in production).
// usage: npm run bench:rolllog -- --coordination zookeeper://127.0.0.1:2181/rollcall-bench [--runs 20]
//        [--sizes 10,60] [--session-timeout-ms 2000] [--rpc-timer-ms 60000] [--json]
//   (or npm run bench:rolllog-zk -- …; without --coordination it starts a server with scripts/zk.sh)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  RpcProcedureMemberRpcs,
  type ForeignException,
  type MemberCallbacks,
  type ProcedureMemberRpcs,
  type ProcedureRef,
} from '../src/barrier/index.js';
import type { MemberTransportContext } from '../src/cluster/index.js';
import { parseZkUrl, zkClusterSettings, type ZkWorkerTransport } from '../src/coordination/zookeeper/index.js';
import { percentile, startLocalCluster } from '../src/runtime/index.js';
import type { LogicalThread } from '../src/threads/index.js';

export interface ZkBenchArgs {
  /** zookeeper://…; undefined: start a server with scripts/zk.sh for the bench. */
  coordination?: string;
  runs: number;
  sizes: number[];
  sessionTimeoutMs: number;
  rpcTimerMs: number;
  json: boolean;
}

type Transport = 'rpc' | 'zookeeper';

interface LatencyRow {
  transport: Transport;
  nodes: number;
  runs: number;
  ok: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  startupMs: number;
  /** Medians over the ok runs, in ms. */
  acquirePhaseMs: number;
  insideBarrierMs: number;
  memberRollP50Ms: number;
}

interface DetectionRow {
  transport: Transport;
  nodes: number;
  /** From the member's death to the end of the run (the client saw the abort). */
  detectMs: number;
  outcome: string;
  error: string;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** A member transport that "dies" once armed: at its next completion it never reports again. */
class DyingMember implements ProcedureMemberRpcs {
  readonly memberName: string;
  private release: (() => void) | undefined;
  private readonly released = new Promise<void>((r) => (this.release = r));
  armed = false;
  diedAtMs: number | undefined;

  constructor(
    private readonly inner: ProcedureMemberRpcs,
    private readonly die: () => void,
  ) {
    this.memberName = inner.memberName;
  }

  start(member: MemberCallbacks): Promise<void> {
    return this.inner.start(member);
  }

  sendMemberAcquired(t: LogicalThread, ref: ProcedureRef): Promise<void> {
    return this.inner.sendMemberAcquired(t, ref);
  }

  async sendMemberCompleted(t: LogicalThread, ref: ProcedureRef, data: unknown): Promise<void> {
    if (!this.armed) return this.inner.sendMemberCompleted(t, ref, data);
    this.diedAtMs = performance.now();
    this.die();
    // A dead process sends nothing more; the thread stays parked until the bench cleans up.
    await t.waitOn({ kind: 'io', what: 'dead member' }, this.released);
  }

  async sendMemberAborted(t: LogicalThread, ref: ProcedureRef, e: ForeignException): Promise<void> {
    if (this.diedAtMs !== undefined) return;
    return this.inner.sendMemberAborted(t, ref, e);
  }

  async close(): Promise<void> {
    this.release?.();
    await this.inner.close();
  }
}

function transportSettings(transport: Transport, url: string, sessionTimeoutMs: number, procedureTimeoutMs: number) {
  return transport === 'zookeeper' ? zkClusterSettings(url, { procedureTimeoutMs, sessionTimeoutMs }) : undefined;
}

async function latency(transport: Transport, url: string, nodes: number, args: ZkBenchArgs): Promise<LatencyRow> {
  const zk = transportSettings(transport, url, args.sessionTimeoutMs, 60_000);
  const t0 = performance.now();
  const lc = await startLocalCluster({
    workers: nodes,
    admin: false,
    master: { defaultMode: 'fixed', ...zk?.master },
    worker: { ...zk?.worker },
  });
  const startupMs = performance.now() - t0;
  const durations: number[] = [];
  const acquire: number[] = [];
  const inside: number[] = [];
  const roll: number[] = [];
  let ok = 0;
  try {
    for (let i = 0; i < args.runs; i++) {
      const r = await lc.cluster.rolllog({ mode: 'fixed' });
      durations.push(r.durationMs);
      if (r.outcome !== 'ok') continue;
      ok++;
      const p = r.result?.phasesMs;
      if (p?.acquired !== undefined && p.released !== undefined) {
        acquire.push(p.acquired);
        inside.push(p.released - p.acquired);
      }
      if (r.result?.rollMs) roll.push(r.result.rollMs.p50);
    }
  } finally {
    await lc.stop();
  }
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    transport,
    nodes,
    runs: args.runs,
    ok,
    p50Ms: r1(percentile(sorted, 50)),
    p99Ms: r1(percentile(sorted, 99)),
    maxMs: r1(sorted[sorted.length - 1] ?? 0),
    startupMs: Math.round(startupMs),
    acquirePhaseMs: r1(median(acquire)),
    insideBarrierMs: r1(median(inside)),
    memberRollP50Ms: r1(median(roll)),
  };
}

async function detection(transport: Transport, url: string, nodes: number, args: ZkBenchArgs): Promise<DetectionRow> {
  const procedureTimeoutMs = transport === 'zookeeper' ? 60_000 : args.rpcTimerMs;
  const zk = transportSettings(transport, url, args.sessionTimeoutMs, procedureTimeoutMs);
  const dying = new Map<string, DyingMember>();
  const memberTransport = (ctx: MemberTransportContext): ProcedureMemberRpcs => {
    let inner: ProcedureMemberRpcs;
    let die: () => void;
    if (zk) {
      const t: ZkWorkerTransport = zk.worker.memberTransport(ctx);
      inner = t;
      // The process dies: its TCP connection to ZooKeeper drops without closing the session.
      die = () => t.zkSession?.crash();
    } else {
      inner = new RpcProcedureMemberRpcs({
        member: ctx.node,
        server: ctx.server,
        pool: 'priority',
        client: ctx.client,
        coordinator: ctx.coordinator,
        callTimeoutMs: 60_000,
      });
      // Over RPC nothing tells the master: it waits for a report that never comes.
      die = () => {};
    }
    const d = new DyingMember(inner, die);
    dying.set(ctx.node, d);
    return d;
  };
  const lc = await startLocalCluster({
    workers: nodes,
    admin: false,
    master: { defaultMode: 'fixed', procedureTimeoutMs, ...zk?.master },
    worker: { memberTimeoutMs: procedureTimeoutMs, memberTransport },
  });
  try {
    const victim = dying.get(lc.cluster.workers[0]!.name)!;
    victim.armed = true;
    const r = await lc.cluster.rolllog({ mode: 'fixed', procedureTimeoutMs });
    const end = performance.now();
    return {
      transport,
      nodes,
      detectMs: Math.round(end - (victim.diedAtMs ?? end)),
      outcome: r.outcome,
      error: (r.error ?? '').slice(0, 160),
    };
  } finally {
    await lc.stop();
  }
}

/** A ZooKeeper server for the bench when none was given; stopped at the end. */
async function ownServer(): Promise<{ url: string; stop: () => void }> {
  // bench/ when run from source, dist/bench/ when built.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = [path.resolve(here, '../scripts/zk.sh'), path.resolve(here, '../../scripts/zk.sh')].find((p) =>
    fs.existsSync(p),
  );
  if (!script) throw new Error('scripts/zk.sh not found; pass --coordination zookeeper://HOST:PORT/CHROOT');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollcall-bench-zk-'));
  execFileSync('bash', [script, 'start', String(port), dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  return {
    url: `zookeeper://127.0.0.1:${port}/rollcall-bench`,
    stop: () => {
      execFileSync('bash', [script, 'stop', String(port), dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function runZkBench(args: ZkBenchArgs): Promise<void> {
  const own = args.coordination ? undefined : await ownServer();
  const url = args.coordination ?? own!.url;
  parseZkUrl(url);
  const out = (s: string): void => {
    if (!args.json) console.log(s);
  };
  try {
    out(`rolllog fixed mode, RPC vs ZooKeeper (${url}); ${args.runs} runs per row`);
    const rows: LatencyRow[] = [];
    for (const nodes of args.sizes) {
      for (const transport of ['rpc', 'zookeeper'] as const) {
        const row = await latency(transport, url, nodes, args);
        rows.push(row);
        out(
          `${transport.padEnd(9)} @${String(nodes).padStart(4)}: p50 ${row.p50Ms.toFixed(1).padStart(6)} ms  p99 ${row.p99Ms
            .toFixed(1)
            .padStart(
              6,
            )} ms  ok ${row.ok}/${row.runs}  | acquire ${row.acquirePhaseMs} + inside ${row.insideBarrierMs} ` +
            `(member roll p50 ${row.memberRollP50Ms}) ms  [startup ${row.startupMs} ms]`,
        );
      }
    }
    const nodes = Math.min(...args.sizes);
    out(`\na member dies inside the barrier (${nodes} workers):`);
    const detect: DetectionRow[] = [];
    for (const transport of ['zookeeper', 'rpc'] as const) {
      const d = await detection(transport, url, nodes, args);
      detect.push(d);
      const how =
        transport === 'zookeeper'
          ? `session expiry, session timeout ${args.sessionTimeoutMs} ms`
          : `procedure timer ${args.rpcTimerMs} ms`;
      out(`${transport.padEnd(9)}: detected after ${d.detectMs} ms (${how}); ${d.outcome}: ${d.error}`);
    }
    if (args.json) console.log(JSON.stringify({ url, runs: args.runs, latency: rows, deadMember: detect }));
  } finally {
    own?.stop();
  }
}

export function parseZkBenchArgs(argv: string[]): ZkBenchArgs {
  const a: ZkBenchArgs = { runs: 20, sizes: [10, 60], sessionTimeoutMs: 2_000, rpcTimerMs: 60_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = (): string => {
      const n = argv[++i];
      if (n === undefined) throw new Error(`${v} needs a value`);
      return n;
    };
    if (v === '--coordination') a.coordination = next();
    else if (v === '--runs') a.runs = Number(next());
    else if (v === '--sizes') a.sizes = next().split(',').map(Number);
    else if (v === '--session-timeout-ms') a.sessionTimeoutMs = Number(next());
    else if (v === '--rpc-timer-ms') a.rpcTimerMs = Number(next());
    else if (v === '--json') a.json = true;
    else throw new Error(`unknown argument ${v}`);
  }
  const whole = (n: number, min: number): boolean => Number.isInteger(n) && n >= min;
  if (
    !whole(a.runs, 1) ||
    !a.sizes.every((n) => whole(n, 1)) ||
    !whole(a.sessionTimeoutMs, 1000) ||
    !whole(a.rpcTimerMs, 1)
  ) {
    throw new Error('--runs, --sizes, --session-timeout-ms (>= 1000) and --rpc-timer-ms take whole numbers');
  }
  return a;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  try {
    await runZkBench(parseZkBenchArgs(process.argv.slice(2)));
  } catch (err) {
    console.error(`bench:rolllog-zk: ${(err as Error).message}`);
    process.exitCode = 2;
  }
}
