// `rollcall analyze` benchmark: time and peak memory to analyze a generated bundle of 100 nodes ×
// 6 samples × 300 threads of JDK 17 jstack text (~200 MB), parse included. Goal: ≤ 5 s, ≤ 1 GiB.
// The analysis runs in a fresh child process (the same code path as the CLI), so its peak RSS is
// the analysis's own and not the generator's.
// usage: npm run bench:analyze -- [--json] [--nodes 100] [--samples 6] [--threads 300] [--dir DIR]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { generateJstackCorpus } from './corpus.js';

interface Args {
  json: boolean;
  nodes: number;
  samples: number;
  threads: number;
  dir?: string;
  child?: string;
}

const GOAL_MS = 5000;
const GOAL_RSS_MIB = 1024;

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, nodes: 100, samples: 6, threads: 300 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const num = (name: string, max: number): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > max) {
        console.error(`${name} takes a whole number from 1 to ${max}`);
        process.exit(2);
      }
      return n;
    };
    if (v === '--json') a.json = true;
    else if (v === '--nodes') a.nodes = num('--nodes', 10_000);
    else if (v === '--samples') a.samples = num('--samples', 1000);
    else if (v === '--threads') a.threads = num('--threads', 100_000);
    else if (v === '--dir') a.dir = argv[++i];
    else if (v === '--child') a.child = argv[++i];
    else if (v === '--help') {
      console.log('usage: npm run bench:analyze -- [--json] [--nodes 100] [--samples 6] [--threads 300] [--dir DIR]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${v}`);
      process.exit(2);
    }
  }
  return a;
}

/** Child: run the CLI's analyze in-process, output to nowhere, report its own figures. */
async function child(dir: string): Promise<void> {
  const { main } = await import('../src/cli/main.js');
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((s: string | Uint8Array) => {
    out += String(s);
    return true;
  }) as typeof process.stdout.write;
  const t0 = performance.now();
  const code = await main(['node', 'rollcall', 'analyze', dir, '--json']);
  const ms = performance.now() - t0;
  process.stdout.write = write;
  const o = JSON.parse(out) as {
    verdict: string;
    samples: number;
    nodes: unknown[];
    threads: { total: number };
    deadlocks: unknown[];
  };
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  write(
    JSON.stringify({
      code,
      ms,
      rssMiB,
      verdict: o.verdict,
      samples: o.samples,
      nodes: o.nodes.length,
      threads: o.threads.total,
      deadlocks: o.deadlocks.length,
    }) + '\n',
  );
}

async function run(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child !== undefined) return child(a.child);
  const dir = a.dir ?? join(tmpdir(), `rollcall-bench-analyze-${a.nodes}x${a.samples}x${a.threads}`);
  let bytes: number;
  if (existsSync(join(dir, '.complete'))) bytes = Number(readFileSync(join(dir, '.complete'), 'utf8'));
  else {
    if (!a.json)
      process.stderr.write(`generating ${a.nodes} nodes × ${a.samples} samples × ${a.threads} threads in ${dir} …\n`);
    bytes = generateJstackCorpus(dir, { nodes: a.nodes, samples: a.samples, threads: a.threads });
  }
  const self = fileURLToPath(import.meta.url);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [self, '--child', dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) {
    console.error(`analyze failed: ${r.stderr}`);
    process.exit(1);
  }
  const c = JSON.parse(r.stdout) as {
    ms: number;
    rssMiB: number;
    verdict: string;
    samples: number;
    nodes: number;
    threads: number;
    deadlocks: number;
  };
  const mb = bytes / 1e6;
  const report = {
    nodes: a.nodes,
    samples: a.samples,
    threadsPerDump: a.threads,
    inputMB: Math.round(mb),
    wallMs: Math.round(wallMs),
    analyzeMs: Math.round(c.ms),
    peakRssMiB: Math.round(c.rssMiB),
    mbPerSecond: Math.round(mb / (c.ms / 1000)),
    verdict: c.verdict,
    deadlocks: c.deadlocks,
    goal: { ms: GOAL_MS, rssMiB: GOAL_RSS_MIB },
    met: wallMs <= GOAL_MS && c.rssMiB <= GOAL_RSS_MIB,
  };
  if (a.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(
    `analyze ${a.nodes} nodes × ${a.samples} samples × ${a.threads} threads (${report.inputMB} MB, parse included): ` +
      `${(report.wallMs / 1000).toFixed(2)} s wall (${(report.analyzeMs / 1000).toFixed(2)} s in analyze, ${report.mbPerSecond} MB/s), ` +
      `peak RSS ${report.peakRssMiB} MiB — goal ≤ ${GOAL_MS / 1000} s, ≤ ${GOAL_RSS_MIB} MiB: ${report.met ? 'met' : 'NOT met'}`,
  );
  console.log(
    `verdict ${c.verdict}, ${c.deadlocks} deadlock(s), ${c.threads} threads followed over ${c.samples} samples`,
  );
}

await run();
