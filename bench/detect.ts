// Detector benchmark: (1) what online detection costs a healthy cluster — fixed-mode rolllog p50
// at 60 in-process workers with and without --detect; (2) how soon it proves the legacy deadlock —
// detection latency over 50 simulated seeds (virtual ms) and over a few real runs.
// usage: npm run bench:detect -- [--json] [--runs 40] [--seeds 50]
import { detectHooks } from '../src/runtime/detect.js';
import { runRolllog } from '../src/runtime/rolllog.js';
import { simulateWithDetector } from '../src/sim/detect.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const runs = arg('--runs', 40);
  const seeds = arg('--seeds', 50);
  const say = (s: string) => {
    if (!json) console.log(s);
  };
  say(
    `fixed-mode rolllog, 60 workers, ${runs} runs each (alternating order to share drift; the detector runs all along, every 250 ms):`,
  );
  const plain: number[] = [];
  const detected: number[] = [];
  let cost = { rounds: 0, collectMsP50: 0, collectMsMax: 0, analyzeMsP50: 0, analyzeMsMax: 0 };
  for (const withDetect of [false, true, false, true]) {
    const hooks = withDetect ? detectHooks({ continuous: true }) : undefined;
    const r = await runRolllog({ nodes: 60, mode: 'fixed', runs: runs / 2, ...(hooks ? { hooks } : {}) });
    (withDetect ? detected : plain).push(...r.runs.map((x) => x.durationMs));
    if (hooks) {
      const c = hooks.cost();
      cost = { ...c, rounds: cost.rounds + c.rounds };
    }
  }
  plain.sort((a, b) => a - b);
  detected.sort((a, b) => a - b);
  const overhead = {
    p50MsWithout: round(pct(plain, 0.5)),
    p50MsWith: round(pct(detected, 0.5)),
    p99MsWithout: round(pct(plain, 0.99)),
    p99MsWith: round(pct(detected, 0.99)),
    detectorRound: cost,
  };
  say(`  without --detect: p50 ${overhead.p50MsWithout} ms, p99 ${overhead.p99MsWithout} ms`);
  say(`  with --detect:    p50 ${overhead.p50MsWith} ms, p99 ${overhead.p99MsWith} ms`);
  say(
    `  one detector round over 61 nodes: collect p50 ${cost.collectMsP50} ms (max ${cost.collectMsMax}), analyze p50 ${cost.analyzeMsP50} ms (max ${cost.analyzeMsMax})`,
  );

  say(`\nlegacy rolllog, 60 workers, 30 handlers: detection latency over ${seeds} simulated seeds (virtual ms):`);
  const lat: number[] = [];
  let missed = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = await simulateWithDetector({ workers: 60, mode: 'legacy', handlers: 30, seed });
    if (r.detectedAfterMs === undefined) missed++;
    else lat.push(r.detectedAfterMs);
  }
  lat.sort((a, b) => a - b);
  const sim = {
    seeds,
    missed,
    minMs: round(lat[0] ?? 0),
    p50Ms: round(pct(lat, 0.5)),
    p99Ms: round(pct(lat, 0.99)),
    maxMs: round(lat[lat.length - 1] ?? 0),
  };
  say(
    `  min ${sim.minMs}, p50 ${sim.p50Ms}, p99 ${sim.p99Ms}, max ${sim.maxMs} ms; missed ${missed} (timeout 60,000 ms)`,
  );

  say('\nlegacy rolllog, 60 workers over real TCP, 5 runs with --detect (wall ms):');
  const real: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await runRolllog({ nodes: 60, mode: 'legacy', runs: 1, hooks: detectHooks() });
    if (r.runs[0]!.detectedAfterMs !== undefined) real.push(r.runs[0]!.detectedAfterMs);
  }
  real.sort((a, b) => a - b);
  say(`  detected in ${real.join(', ')} ms`);
  if (json) console.log(JSON.stringify({ overhead, simulatedDetection: sim, realDetectionMs: real }));
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
