// `rollcall simulate`: the real cluster code on the deterministic simulated substrate, swept over
// cluster sizes — the scale cliff of legacy mode, and fixed mode at 10,000 nodes, on one screen.
import { writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { MASTER_DEFAULTS, ROLLLOG_MODES, WORKER_DEFAULTS, type RolllogMode } from '../../cluster/index.js';
import { sweepChartSvg } from '../../report/charts.js';
import { FaultSpecError, emptyPlan, formatFaultPlan, parseFaultSpec, type FaultPlan } from '../../sim/faults.js';
import { NodeListError, parseNodeList } from '../../sim/nodes.js';
import { MAX_RUNS_PER_CLUSTER, SIM_DEFAULTS } from '../../sim/run.js';
import { cliffs, sweep, sweepChartPoints, type SweepPoint } from '../../sim/sweep.js';
import { predictInSimulation } from '../../sim/detect.js';
import { UsageError } from '../errors.js';
import { durationMsOption, floatOption, intOption } from '../options.js';

interface SimulateFlags {
  nodes: string;
  mode: string;
  handlers: string;
  seed: number;
  latencyMs: number;
  jitterMs: number;
  jitter: 'uniform' | 'exponential';
  fsyncMs: number;
  checkCostMs: number;
  rpcTimeoutMs: number;
  procedureTimeoutMs: number;
  memberPool: number;
  priorityHandlers: number;
  wakeIntervalMs: number;
  writeRate: number;
  faults?: string;
  runs: number;
  maxEvents: number;
  maxVirtualMs: number;
  json?: boolean;
  plot?: string;
  verbose?: boolean;
}

const MAX_POOL = 4096;
const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

/** The JSON contract: {"mode","seed","handlers","results":[...]}; extra fields are additive. */
export interface SimulateReport {
  mode: string;
  seed: number;
  handlers: number | number[];
  latencyMs: number;
  jitterMs: number;
  fsyncMs: number;
  faults: string;
  results: SweepPoint[];
  cliffs: ReturnType<typeof cliffs>;
  /** The latent-deadlock predictor's threshold, from a 3-worker run per handler count. */
  predictions: SimulatePrediction[];
}

export interface SimulatePrediction {
  mode: 'legacy';
  handlers: number;
  /** Workers of the run the prediction was made from. */
  observedFrom: number;
  firesAtNodes: number | null;
  firesAtConcurrency: number | null;
  pool: string | null;
  summary?: string;
}

function listOf<T>(flag: string, parse: (v: string) => T): (v: string) => T[] {
  return (v: string) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((s) => {
        try {
          return parse(s);
        } catch (err) {
          throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
        }
      });
}

function positiveMs(name: string): (v: string) => number {
  const parse = durationMsOption(name);
  return (v) => {
    const n = parse(v);
    if (n <= 0 || n > MAX_TIMEOUT_MS)
      throw new InvalidArgumentError(`${name} must be between 1 ms and 24 h, not '${v}'`);
    return n;
  };
}

export function registerSimulate(program: Command): Command {
  const cmd = program
    .command('simulate')
    .description(
      'Run the real cluster code (master, workers, barrier, RPC, WAL) on a deterministic simulated network and disk, swept over cluster sizes: the legacy scale cliff and fixed mode at 10,000 nodes.',
    )
    .option('--nodes <LIST>', 'worker counts: 10,20,40 or FROM..TO/STEP (e.g. 5..200/5), or a mix', '10,20,40')
    .option('--mode <MODE>', `legacy, fixed, or a list (legacy,fixed)`, 'legacy')
    .option(
      '--handlers <N>',
      "master's default-pool handlers; a list (10,30,50) sweeps each",
      String(MASTER_DEFAULTS.handlers),
    )
    .option('--seed <N>', 'seed of every random choice: same seed, same run', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option(
      '--latency-ms <MS>',
      'one-way network delay between nodes',
      floatOption('--latency-ms', 0, 60_000),
      SIM_DEFAULTS.latencyMs,
    )
    .option(
      '--jitter-ms <MS>',
      'random extra delay per message',
      floatOption('--jitter-ms', 0, 60_000),
      SIM_DEFAULTS.jitterMs,
    )
    .addOption(
      new Option('--jitter <DIST>', 'jitter distribution: uniform [0, jitter) or exponential (mean jitter)')
        .choices(['uniform', 'exponential'])
        .default('uniform'),
    )
    .option(
      '--fsync-ms <MS>',
      'time of one fsync (they queue per node)',
      floatOption('--fsync-ms', 0, 60_000),
      SIM_DEFAULTS.fsyncMs,
    )
    .option(
      '--check-cost-ms <MS>',
      "master's work per legacy sanity check",
      intOption('--check-cost-ms', 0, 3_600_000),
      SIM_DEFAULTS.checkCostMs,
    )
    .option('--rpc-timeout-ms <MS>', 'RPC call timeout', positiveMs('--rpc-timeout-ms'), SIM_DEFAULTS.rpcTimeoutMs)
    .option(
      '--procedure-timeout-ms <MS>',
      'procedure and member timer',
      positiveMs('--procedure-timeout-ms'),
      SIM_DEFAULTS.procedureTimeoutMs,
    )
    .option(
      '--priority-handlers <N>',
      "master's priority-pool handlers",
      intOption('--priority-handlers', 1, MAX_POOL),
      MASTER_DEFAULTS.priorityHandlers,
    )
    .option(
      '--member-pool <N>',
      "each worker's subprocedure threads",
      intOption('--member-pool', 1, MAX_POOL),
      WORKER_DEFAULTS.memberThreads,
    )
    .option(
      '--wake-interval-ms <MS>',
      'barrier error re-check interval',
      positiveMs('--wake-interval-ms'),
      MASTER_DEFAULTS.wakeIntervalMs,
    )
    .option(
      '--write-rate <N>',
      'WAL entries per second per worker from a load generator',
      intOption('--write-rate', 0, 100_000),
      0,
    )
    .option('--faults <SPEC>', 'faults to inject, e.g. drop=0.01,partition=100ms-600ms:worker-1|worker-2 (see below)')
    .option('--runs <K>', 'rolllogs per cluster, one after another', intOption('--runs', 1, MAX_RUNS_PER_CLUSTER), 1)
    .option(
      '--max-events <N>',
      'bound on simulated events per cluster',
      intOption('--max-events', 1000, 1_000_000_000),
      50_000_000,
    )
    .option(
      '--max-virtual-ms <MS>',
      'bound on virtual time per cluster',
      intOption('--max-virtual-ms', 1000, 365 * 24 * 3600_000),
      24 * 3600_000,
    )
    .option('--json', 'print the results as JSON')
    .option('--plot <FILE.svg>', 'write an SVG chart: virtual duration vs cluster size, timeout wall marked')
    .option('--verbose', 'log node events (aborts, dropped connections) to stderr');
  cmd.addHelpText(
    'after',
    `
Each size runs in a fresh simulated world: virtual time, in-memory disks, a network with the given
latency and jitter. The same seed gives the same run (compare traceHash); nothing real is touched.

--faults SPEC, comma-separated; times count from the start of the first rolllog:
  drop=P[@FROM-TO]            lose a fraction P of frames (connections stay up)
  dup=P[@FROM-TO]             deliver a fraction P of frames twice
  reorder=P[@FROM-TO]         delay a fraction P of frames by up to 5 ms, letting later ones pass
  partition=FROM-[TO]:A|B[/C|D]  cut nodes A,B off from everyone (or from C,D); heals at TO.
                              Frames across it wait and arrive after the heal, as TCP would
                              retransmit them; new connections retry their SYN with backoff.
  crash=NODE@T                power-fail NODE: unsynced disk data is lost, peers see resets
  restart=NODE@T              bring a crashed worker back on its surviving disk
  Nodes: master, worker-1 .. worker-N, client. Times: 50ms, 2s, 1m (bare numbers are ms).

JSON: {"mode","seed","handlers","results":[{"nodes","outcome":"ok"|"timeout"|"failed",
       "durationMs" (virtual),"wallMs","traceHash","events","error"?,...}]}

Examples:
  rollcall simulate --nodes 5..60/5 --mode legacy --handlers 10,30,50 --plot cliff.svg
  rollcall simulate --nodes 10000 --mode fixed
  rollcall simulate --nodes 20 --mode fixed --runs 2 --faults partition=0ms-2s:worker-3`,
  );
  cmd.action(async (flags: SimulateFlags) => runSimulate(flags));
  return cmd;
}

function parseModes(text: string): RolllogMode[] {
  const modes = text === 'both' ? ['legacy', 'fixed'] : text.split(',').map((s) => s.trim());
  for (const m of modes) {
    if (!(ROLLLOG_MODES as readonly string[]).includes(m))
      throw new UsageError(`--mode is legacy, fixed or a list of them, not '${text}'`);
  }
  return [...new Set(modes)] as RolllogMode[];
}

async function runSimulate(flags: SimulateFlags): Promise<void> {
  let sizes: number[];
  let plan: FaultPlan;
  let handlers: number[];
  try {
    sizes = parseNodeList(flags.nodes);
    plan = flags.faults ? parseFaultSpec(flags.faults) : emptyPlan();
    handlers = [...new Set(listOf('--handlers', intOption('--handlers', 1, MAX_POOL))(flags.handlers))];
    if (handlers.length === 0) throw new UsageError('--handlers needs a number');
  } catch (err) {
    if (err instanceof NodeListError || err instanceof FaultSpecError || err instanceof InvalidArgumentError) {
      throw new UsageError(err.message);
    }
    throw err;
  }
  const modes = parseModes(flags.mode);
  const total = sizes.length * modes.length * handlers.length;
  const bar =
    process.stderr.isTTY === true
      ? new cliProgress.SingleBar(
          {
            format:
              'simulate [{bar}] {value}/{total} clusters | {mode} {handlers}h {nodes} workers: {outcome} {duration}',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(total, 0, { mode: modes[0], handlers: handlers[0], nodes: '-', outcome: '', duration: '' });
  let points: SweepPoint[];
  try {
    points = await sweep({
      sizes,
      modes,
      handlers,
      seed: flags.seed,
      link: { latencyMs: flags.latencyMs, jitterMs: flags.jitterMs, jitter: flags.jitter },
      disk: { fsyncMs: flags.fsyncMs },
      checkCostMs: flags.checkCostMs,
      rpcTimeoutMs: flags.rpcTimeoutMs,
      procedureTimeoutMs: flags.procedureTimeoutMs,
      faults: plan,
      runs: flags.runs,
      limits: { maxEvents: flags.maxEvents, maxVirtualMs: flags.maxVirtualMs },
      master: { priorityHandlers: flags.priorityHandlers, wakeIntervalMs: flags.wakeIntervalMs },
      worker: { memberThreads: flags.memberPool, wakeIntervalMs: flags.wakeIntervalMs, writeRate: flags.writeRate },
      ...(flags.verbose ? { log: (m: string) => process.stderr.write(`rollcall simulate: ${m}\n`) } : {}),
      onPoint: (done, _total, p) =>
        bar?.update(done, {
          mode: p.mode,
          handlers: p.handlers,
          nodes: p.nodes,
          outcome: p.outcome,
          duration: `${p.durationMs.toFixed(1)} ms`,
        }),
    });
  } catch (err) {
    if (err instanceof FaultSpecError) throw new UsageError(err.message);
    throw err;
  } finally {
    bar?.stop();
  }
  // The predictor's view from a 3-worker run, per handler count, next to what the sweep observed.
  const predicted: SimulatePrediction[] = [];
  if (modes.includes('legacy')) {
    for (const h of handlers) {
      const preds = await predictInSimulation({
        mode: 'legacy',
        handlers: h,
        seed: flags.seed,
        link: { latencyMs: flags.latencyMs, jitterMs: flags.jitterMs, jitter: flags.jitter },
        disk: { fsyncMs: flags.fsyncMs },
        checkCostMs: flags.checkCostMs,
        rpcTimeoutMs: flags.rpcTimeoutMs,
        procedureTimeoutMs: flags.procedureTimeoutMs,
        master: { priorityHandlers: flags.priorityHandlers, wakeIntervalMs: flags.wakeIntervalMs },
        worker: { memberThreads: flags.memberPool, wakeIntervalMs: flags.wakeIntervalMs },
      });
      const p = preds[0];
      predicted.push({
        mode: 'legacy',
        handlers: h,
        observedFrom: 3,
        firesAtNodes: p?.firesAtNodes ?? null,
        firesAtConcurrency: p?.firesAtConcurrency ?? null,
        pool: p?.pool ?? null,
        ...(p ? { summary: p.summary } : {}),
      });
    }
  }
  const report: SimulateReport = {
    mode: modes.join(','),
    seed: flags.seed,
    handlers: handlers.length === 1 ? handlers[0]! : handlers,
    latencyMs: flags.latencyMs,
    jitterMs: flags.jitterMs,
    fsyncMs: flags.fsyncMs,
    faults: formatFaultPlan(plan),
    results: points,
    cliffs: cliffs(points),
    predictions: predicted,
  };
  if (flags.plot) {
    const svg = await sweepChartSvg(sweepChartPoints(points), {
      timeoutMs: flags.rpcTimeoutMs,
      markers: predicted
        .filter((p) => p.firesAtNodes !== null)
        .map((p) => ({
          x: p.firesAtNodes!,
          label: `predicted (${p.handlers} handlers, from 3 workers)`,
          color: '#8e44ad',
        })),
    });
    writeFileSync(flags.plot, svg);
  }
  if (flags.json) process.stdout.write(JSON.stringify(report) + '\n');
  else process.stdout.write(formatSimulateReport(report, modes.length > 1 || handlers.length > 1));
  if (flags.plot && !flags.json) process.stdout.write(`chart written to ${flags.plot}\n`);
}

export function formatSimulateReport(r: SimulateReport, showSeries: boolean): string {
  const out: string[] = [];
  out.push(
    `rollcall simulate: ${r.mode} mode, ${Array.isArray(r.handlers) ? r.handlers.join('/') : r.handlers} handlers, seed ${r.seed}, latency ${r.latencyMs} ms + jitter ${r.jitterMs} ms, fsync ${r.fsyncMs} ms${r.faults ? `, faults ${r.faults}` : ''}`,
  );
  const multiRun = r.results.some((p) => p.run > 0);
  out.push(
    `${showSeries ? 'mode    handlers ' : ''}${'workers'.padStart(7)}${multiRun ? '  run' : ''}  outcome  ${'virtual ms'.padStart(11)}  ${'wall ms'.padStart(8)}  ${'events'.padStart(9)}  trace`,
  );
  for (const p of r.results) {
    out.push(
      `${showSeries ? `${p.mode.padEnd(7)} ${String(p.handlers).padStart(8)} ` : ''}${String(p.nodes).padStart(7)}${multiRun ? String(p.run + 1).padStart(5) : ''}  ${p.outcome.padEnd(7)}  ${p.durationMs.toFixed(3).padStart(11)}  ${String(p.wallMs).padStart(8)}  ${String(p.events).padStart(9)}  ${p.traceHash}`,
    );
    if (p.error) out.push(`         ${clip(p.error)}`);
    if (p.procedureError) out.push(`         master: ${clip(p.procedureError)}`);
  }
  for (const c of r.cliffs) {
    out.push(`cliff: ${c.mode} with ${c.handlers} handlers is ok at ${c.lastOk} workers and fails from ${c.firstFail}`);
  }
  for (const p of r.predictions) {
    const observed = r.cliffs.find((c) => c.mode === 'legacy' && c.handlers === p.handlers);
    out.push(
      p.firesAtNodes === null
        ? `predicted: legacy with ${p.handlers} handlers — no latent deadlock seen in a ${p.observedFrom}-worker run`
        : `predicted: legacy with ${p.handlers} handlers deadlocks from ${p.firesAtNodes} workers (${p.pool}, from a ${p.observedFrom}-worker run)${observed ? `; observed: fails from ${observed.firstFail}` : ''}`,
    );
  }
  return out.join('\n') + '\n';
}

function clip(text: string): string {
  return text.length > 300 ? text.slice(0, 300) + '…' : text;
}
