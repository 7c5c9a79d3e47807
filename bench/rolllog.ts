// rolllog benchmark: fixed mode at 10, 60 and 250 in-process workers and legacy at 10, over real
// TCP on loopback with real fsync, and where the time of a run goes.
// usage: npm run bench:rolllog -- [--json] [--runs 20] [--sizes 10,60,250]
//        npm run bench:rolllog -- --coordination zookeeper://HOST:PORT/CHROOT  (RPC vs ZooKeeper)
import { performance } from 'node:perf_hooks';
import type { RolllogMode } from '../src/cluster/index.js';
import { percentile, startLocalCluster } from '../src/runtime/index.js';
import { parseZkBenchArgs, runZkBench } from './rolllog-zk.js';

interface Args {
  json: boolean;
  runs: number;
  sizes: number[];
}

interface Row {
  mode: RolllogMode;
  nodes: number;
  runs: number;
  ok: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  startupMs: number;
  /** Medians over the runs, in ms: where a run's time goes. */
  breakdown: {
    acquirePhase: number;
    insideBarrier: number;
    backupWrite: number;
    clientOverhead: number;
    memberRollP50: number;
    memberRollMax: number;
  };
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, runs: 20, sizes: [10, 60, 250] };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--json') a.json = true;
    else if (v === '--runs') a.runs = Number(argv[++i]);
    else if (v === '--sizes') a.sizes = argv[++i]!.split(',').map(Number);
    else if (v === '--help') {
      console.log('usage: npm run bench:rolllog -- [--json] [--runs 20] [--sizes 10,60,250]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${v}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(a.runs) || a.runs < 1 || a.sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    console.error('--runs and --sizes take positive whole numbers');
    process.exit(2);
  }
  return a;
}

const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((x, y) => x - y),
    50,
  );
const r1 = (x: number): number => Math.round(x * 10) / 10;

async function measure(mode: RolllogMode, nodes: number, runs: number): Promise<Row> {
  const t0 = performance.now();
  const lc = await startLocalCluster({ workers: nodes, admin: false, master: { defaultMode: mode } });
  const startupMs = performance.now() - t0;
  const durations: number[] = [];
  const acquire: number[] = [];
  const inside: number[] = [];
  const backup: number[] = [];
  const client: number[] = [];
  const rollP50: number[] = [];
  const rollMax: number[] = [];
  let ok = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const r = await lc.cluster.rolllog({ mode });
      durations.push(r.durationMs);
      if (r.outcome !== 'ok') continue;
      ok++;
      const p = r.result?.phasesMs;
      if (p?.acquired !== undefined && p.released !== undefined && p.finished !== undefined) {
        acquire.push(p.acquired);
        inside.push(p.released - p.acquired);
        backup.push((p.afterBarrier ?? p.released) - p.released);
        client.push(r.durationMs - p.finished);
      }
      if (r.result?.rollMs) {
        rollP50.push(r.result.rollMs.p50);
        rollMax.push(r.result.rollMs.max);
      }
    }
  } finally {
    await lc.stop();
  }
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    mode,
    nodes,
    runs,
    ok,
    p50Ms: r1(percentile(sorted, 50)),
    p99Ms: r1(percentile(sorted, 99)),
    maxMs: r1(sorted[sorted.length - 1] ?? 0),
    startupMs: Math.round(startupMs),
    breakdown: {
      acquirePhase: r1(median(acquire)),
      insideBarrier: r1(median(inside)),
      backupWrite: r1(median(backup)),
      clientOverhead: r1(median(client)),
      memberRollP50: r1(median(rollP50)),
      memberRollMax: r1(median(rollMax)),
    },
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--coordination')) {
    // The same runs through ZooKeeper, beside the RPC transport (bench/rolllog-zk.ts).
    await runZkBench(parseZkBenchArgs(process.argv.slice(2)));
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const plan: [RolllogMode, number][] = [...args.sizes.map((n): [RolllogMode, number] => ['fixed', n]), ['legacy', 10]];
  const rows: Row[] = [];
  for (const [mode, nodes] of plan) {
    const row = await measure(mode, nodes, args.runs);
    rows.push(row);
    if (!args.json) {
      const b = row.breakdown;
      console.log(
        `${mode.padEnd(6)} @${String(nodes).padStart(4)}: p50 ${row.p50Ms.toFixed(1).padStart(6)} ms  p99 ${row.p99Ms.toFixed(1).padStart(6)} ms  ` +
          `ok ${row.ok}/${row.runs}  | acquire ${b.acquirePhase} + inside ${b.insideBarrier} (member roll p50 ${b.memberRollP50}, max ${b.memberRollMax}) ` +
          `+ backup write ${b.backupWrite} + client ${b.clientOverhead} ms  [startup ${row.startupMs} ms]`,
      );
    }
  }
  if (args.json) console.log(JSON.stringify({ runs: args.runs, results: rows }));
}

await main();
