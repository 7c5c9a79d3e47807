// Simulator benchmark: fixed-mode rolllog on the simulated substrate at 1,000 and 10,000 workers.
// Prints wall time (cluster startup + one rolllog), events per second, virtual duration and heap.
// usage: npm run bench:sim -- [--sizes 1000,10000] [--seed 1] [--json]
import { runSimulation } from '../src/sim/run.js';
import { parseNodeList } from '../src/sim/nodes.js';

interface Args {
  sizes: number[];
  seed: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sizes: [1000, 10_000], seed: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--json') a.json = true;
    else if (v === '--sizes') a.sizes = parseNodeList(argv[++i] ?? '');
    else if (v === '--seed') a.seed = Number(argv[++i]);
    else if (v === '--help') {
      console.log('usage: npm run bench:sim -- [--sizes 1000,10000] [--seed 1] [--json]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${v}`);
      process.exit(2);
    }
  }
  return a;
}

const args = parseArgs(process.argv.slice(2));
const rows = [];
for (const workers of args.sizes) {
  const t0 = performance.now();
  const [r] = await runSimulation({ workers, mode: 'fixed', handlers: 30, seed: args.seed });
  const wallMs = performance.now() - t0;
  const heapMb = process.memoryUsage().heapUsed / 1e6;
  const row = {
    workers,
    outcome: r!.outcome,
    wallMs: Math.round(wallMs),
    startupWallMs: r!.startupWallMs ?? 0,
    rolllogWallMs: Math.round(wallMs - (r!.startupWallMs ?? 0)),
    events: r!.events,
    eventsPerSec: Math.round(r!.events / (wallMs / 1000)),
    virtualMs: r!.durationMs,
    startupVirtualMs: r!.startupMs ?? 0,
    heapMb: Math.round(heapMb),
    traceHash: r!.traceHash,
  };
  rows.push(row);
  if (!args.json) {
    console.log(
      `fixed rolllog, ${String(workers).padStart(6)} workers: ${row.outcome}, wall ${row.wallMs} ms (startup ${row.startupWallMs} + rolllog ${row.rolllogWallMs}), ` +
        `${row.events} events, ${row.eventsPerSec.toLocaleString('en-US')} events/s, virtual ${row.virtualMs.toFixed(1)} ms, heap ${row.heapMb} MB`,
    );
  }
}
if (args.json) console.log(JSON.stringify({ seed: args.seed, results: rows }));
