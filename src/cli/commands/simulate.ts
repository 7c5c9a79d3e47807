// `rollcall simulate`: the real cluster code on the deterministic simulated substrate, swept over
// cluster sizes — the scale cliff of legacy mode, and fixed mode at 10,000 nodes, on one screen.
import { accessSync, constants as fsConstants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { MASTER_DEFAULTS, ROLLLOG_MODES, WORKER_DEFAULTS, type RolllogMode } from '../../cluster/index.js';
import { sweepChartSvg } from '../../report/charts.js';
import { MAX_HANDLERS_PER_POOL } from '../../rpc/index.js';
import { SimCrash, firstLine } from '../../sim/crash.js';
import { predictInSimulation } from '../../sim/detect.js';
import {
  FaultSpecError,
  emptyPlan,
  formatFaultPlan,
  isEmptyPlan,
  parseFaultSpec,
  type FaultPlan,
} from '../../sim/faults.js';
import { INVARIANTS } from '../../sim/invariants.js';
import { NodeListError, parseNodeList } from '../../sim/nodes.js';
import { randomFaultPlan, type Coordination } from '../../sim/random-faults.js';
import { MAX_RUNS_PER_CLUSTER, SIM_DEFAULTS, round3, runSimulation } from '../../sim/run.js';
import {
  MAX_SWEEP_POINTS,
  checkFaultNodes,
  cliffs,
  sweep,
  sweepChartPoints,
  type SweepPoint,
} from '../../sim/sweep.js';
import { ZK_SIM_DEFAULTS, checkZkFaultPlan, runZkSimulation } from '../../sim/zookeeper.js';
import { FindingExit, UsageError } from '../errors.js';
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
  coordination: Coordination;
  seeds: number;
  sessionTimeoutMs: number;
  zkWriteMs: number;
  runGapMs: number;
  runs: number;
  maxEvents: number;
  maxVirtualMs: number;
  json?: boolean;
  plot?: string;
  verbose?: boolean;
}

const MAX_TIMEOUT_MS = 24 * 3600 * 1000;
const MAX_SEED = 2 ** 31 - 1;
/** Bound on --seeds: hundreds in CI, a long night's worth by hand. */
const MAX_SEEDS = 100_000;

/** A cluster's result; with several seeds or random faults it names its seed and its fault plan. */
export interface SimulatePoint extends SweepPoint {
  seed?: number;
  faults?: string;
}

/** The JSON contract: {"mode","seed","handlers","results":[...]}; extra fields are additive. */
export interface SimulateReport {
  mode: string;
  coordination: Coordination;
  seed: number;
  seeds: number;
  handlers: number | number[];
  latencyMs: number;
  jitterMs: number;
  fsyncMs: number;
  faults: string;
  /** With --coordination zookeeper: the invariants every seed was held to. */
  invariants?: string[];
  results: SimulatePoint[];
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
    .option('--seed <N>', 'seed of every random choice: same seed, same run', intOption('--seed', 0, MAX_SEED), 1)
    .option(
      '--seeds <N>',
      'run N seeds, from --seed on (with --faults random, each draws its own fault plan)',
      intOption('--seeds', 1, MAX_SEEDS),
      1,
    )
    .addOption(
      new Option(
        '--coordination <KIND>',
        'rpc (the master coordinates over RPC) or zookeeper (a simulated ZooKeeper, an active and a standby master)',
      )
        .choices(['rpc', 'zookeeper'])
        .default('rpc'),
    )
    .option(
      '--session-timeout-ms <MS>',
      'ZooKeeper session timeout of every node (--coordination zookeeper)',
      intOption('--session-timeout-ms', 200, 120_000),
      ZK_SIM_DEFAULTS.sessionTimeoutMs,
    )
    .option(
      '--zk-write-ms <MS>',
      'time of one group commit on the simulated ZooKeeper (--coordination zookeeper)',
      floatOption('--zk-write-ms', 0, 60_000),
      ZK_SIM_DEFAULTS.zkWriteMs,
    )
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
      intOption('--priority-handlers', 1, MAX_HANDLERS_PER_POOL),
      MASTER_DEFAULTS.priorityHandlers,
    )
    .option(
      '--member-pool <N>',
      "each worker's subprocedure threads",
      intOption('--member-pool', 1, MAX_HANDLERS_PER_POOL),
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
    .option(
      '--faults <SPEC>',
      "faults to inject, e.g. drop=0.01,partition=100ms-600ms:worker-1|worker-2, or 'random' (see below)",
    )
    .option('--runs <K>', 'rolllogs per cluster, one after another', intOption('--runs', 1, MAX_RUNS_PER_CLUSTER), 1)
    .option(
      '--run-gap-ms <MS>',
      'virtual pause between one rolllog and the next',
      intOption('--run-gap-ms', 0, 3_600_000),
      0,
    )
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
  restart=NODE@T              bring a crashed node back on its surviving disk (a master as a standby)
  expire=NODE@T               ZooKeeper expires NODE's session (--coordination zookeeper)
  random                      a plan drawn from the seed (crashes, restarts, expiries, partitions)
  Nodes: master, worker-1 .. worker-N, client; with zookeeper also master-2 (the standby) and
  zookeeper (partitions only). Times: 50ms, 2s, 1m (bare numbers are ms).

--coordination zookeeper runs the same master, standby, worker and client code as
--coordination zookeeper://… on real nodes, over a simulated ZooKeeper. Rolllogs run back to back
(--run-gap-ms apart) until every fault has happened, at least --runs of them; then the cluster
settles and these invariants are checked on every seed: one active master at every instant; every
run ends once and its client is told how (ok: one backup-table row per member, written once); no
worker stays inside a barrier; no znode is left behind.

Only protocol outcomes are results: ok, timeout, aborted. An assertion failure, an exception in
node code, a stall or a broken invariant is a crash: the command prints what broke and a replay
line, and exits 1.

JSON: {"mode","coordination","seed","handlers","results":[{"nodes","run","outcome":"ok"|"timeout"|"aborted",
       "durationMs" (virtual),"wallMs","traceHash","events","error"?,"master"?,"seed"?,"faults"?,...}],
       "crash"?:{"kind","message","seed","replay",...}}

Examples:
  rollcall simulate --nodes 5..60/5 --mode legacy --handlers 10,30,50 --plot cliff.svg
  rollcall simulate --nodes 10000 --mode fixed
  rollcall simulate --coordination zookeeper --nodes 20 --mode fixed --faults crash=master@300ms
  rollcall simulate --coordination zookeeper --nodes 5 --mode fixed --faults random --seeds 500 --run-gap-ms 100
  rollcall simulate --nodes 20 --mode fixed --runs 2 --faults partition=0ms-2s:worker-3`,
  );
  cmd.action(async (flags: SimulateFlags) => runSimulate(flags, cmd));
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

async function runSimulate(flags: SimulateFlags, cmd: Command): Promise<void> {
  // Every user limit is checked here, from the constant the code enforces, before any work.
  let sizes: number[];
  let plan: FaultPlan | 'random';
  let handlers: number[];
  try {
    sizes = parseNodeList(flags.nodes);
    plan = flags.faults === 'random' ? 'random' : flags.faults ? parseFaultSpec(flags.faults) : emptyPlan();
    handlers = [...new Set(listOf('--handlers', intOption('--handlers', 1, MAX_HANDLERS_PER_POOL))(flags.handlers))];
    if (handlers.length === 0) throw new UsageError('--handlers needs a number');
    if (plan !== 'random') {
      checkFaultNodes(plan, sizes, flags.coordination);
      if (flags.coordination === 'zookeeper') checkZkFaultPlan(plan);
      else if (plan.expiries.length > 0)
        throw new FaultSpecError('expire= expires ZooKeeper sessions: it needs --coordination zookeeper');
    }
  } catch (err) {
    if (err instanceof NodeListError || err instanceof FaultSpecError || err instanceof InvalidArgumentError) {
      throw new UsageError(err.message);
    }
    throw err;
  }
  const modes = parseModes(flags.mode);
  const clusters = sizes.length * modes.length * handlers.length * flags.seeds;
  if (clusters > MAX_SWEEP_POINTS) {
    throw new UsageError(
      `${sizes.length} sizes × ${modes.length} modes × ${handlers.length} handler counts × ${flags.seeds} seeds is ${clusters} clusters; the limit is ${MAX_SWEEP_POINTS}`,
    );
  }
  if (flags.seed + flags.seeds - 1 > MAX_SEED) throw new UsageError(`--seed + --seeds must stay below ${MAX_SEED + 1}`);
  if (flags.plot) checkOutputFile('--plot', flags.plot);
  const bar =
    process.stderr.isTTY === true
      ? new cliProgress.SingleBar(
          {
            format:
              'simulate [{bar}] {value}/{total} clusters | {mode} {handlers}h {nodes} workers seed {seed}: {outcome} {duration}',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(clusters, 0, {
    mode: modes[0],
    handlers: handlers[0],
    nodes: '-',
    seed: flags.seed,
    outcome: '',
    duration: '',
  });
  const zk = flags.coordination === 'zookeeper';
  const base = {
    link: { latencyMs: flags.latencyMs, jitterMs: flags.jitterMs, jitter: flags.jitter },
    disk: { fsyncMs: flags.fsyncMs },
    checkCostMs: flags.checkCostMs,
    rpcTimeoutMs: flags.rpcTimeoutMs,
    procedureTimeoutMs: flags.procedureTimeoutMs,
    runs: flags.runs,
    runGapMs: flags.runGapMs,
    limits: { maxEvents: flags.maxEvents, maxVirtualMs: flags.maxVirtualMs },
    master: { priorityHandlers: flags.priorityHandlers, wakeIntervalMs: flags.wakeIntervalMs },
    worker: { memberThreads: flags.memberPool, wakeIntervalMs: flags.wakeIntervalMs, writeRate: flags.writeRate },
    ...(zk ? { sessionTimeoutMs: flags.sessionTimeoutMs, zkWriteMs: flags.zkWriteMs } : {}),
    ...(flags.verbose ? { log: (m: string) => process.stderr.write(`rollcall simulate: ${m}\n`) } : {}),
  };
  const points: SimulatePoint[] = [];
  let done = 0;
  try {
    for (let seed = flags.seed; seed < flags.seed + flags.seeds; seed++) {
      const run = zk ? runZkSimulation : runSimulation;
      const swept = await sweep({
        ...base,
        sizes,
        modes,
        handlers,
        seed,
        ...(plan === 'random' ? {} : { faults: plan }),
        runner: (opts) =>
          run(
            plan === 'random'
              ? { ...opts, faults: randomFaultPlan(opts.seed, opts.workers, flags.coordination) }
              : opts,
          ),
        onPoint: (_done, _total, p) =>
          bar?.update(++done, {
            mode: p.mode,
            handlers: p.handlers,
            nodes: p.nodes,
            seed,
            outcome: p.outcome,
            duration: `${p.durationMs.toFixed(1)} ms`,
          }),
      }).catch((err: unknown) => {
        if (err instanceof SimCrash)
          err.before = [...points, ...((err.before ?? []) as SweepPoint[]).map((p) => withSeed(p, seed, plan, flags))];
        throw err;
      });
      points.push(...swept.map((p) => withSeed(p, seed, plan, flags)));
    }
  } catch (err) {
    bar?.stop();
    if (err instanceof FaultSpecError) throw new UsageError(err.message);
    if (err instanceof SimCrash) return reportCrash(err, flags, cmd, plan);
    throw err;
  }
  bar?.stop();
  // The predictor's view from a 3-worker run, per handler count, next to what the sweep observed.
  const predicted: SimulatePrediction[] = [];
  if (modes.includes('legacy') && !zk) {
    for (const h of handlers) {
      const preds = await predictInSimulation({
        mode: 'legacy',
        handlers: h,
        seed: flags.seed,
        link: base.link,
        disk: base.disk,
        checkCostMs: flags.checkCostMs,
        rpcTimeoutMs: flags.rpcTimeoutMs,
        procedureTimeoutMs: flags.procedureTimeoutMs,
        master: base.master,
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
    coordination: flags.coordination,
    seed: flags.seed,
    seeds: flags.seeds,
    handlers: handlers.length === 1 ? handlers[0]! : handlers,
    latencyMs: flags.latencyMs,
    jitterMs: flags.jitterMs,
    fsyncMs: flags.fsyncMs,
    faults: plan === 'random' ? 'random' : formatFaultPlan(plan),
    ...(zk ? { invariants: [...INVARIANTS] } : {}),
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

/** A point of a multi-seed or random-fault run names its seed and its faults, so it can be replayed. */
function withSeed(p: SweepPoint, seed: number, plan: FaultPlan | 'random', flags: SimulateFlags): SimulatePoint {
  const faults = plan === 'random' ? formatFaultPlan(randomFaultPlan(seed, p.nodes, flags.coordination)) : undefined;
  return flags.seeds > 1 || faults !== undefined ? { ...p, seed, ...(faults !== undefined ? { faults } : {}) } : p;
}

/**
 * A crashed run: the partial report (with --json), then one line saying what broke and one line
 * with the command that replays exactly that cluster, seed and fault schedule; exit 1.
 */
function reportCrash(crash: SimCrash, flags: SimulateFlags, cmd: Command, plan: FaultPlan | 'random'): never {
  const point = crash.point;
  const seed = point?.seed ?? flags.seed;
  const faults =
    plan === 'random' && point
      ? randomFaultPlan(seed, point.nodes, flags.coordination)
      : plan === 'random'
        ? undefined
        : plan;
  const replay = replayCommand(cmd, flags, {
    ...(point ? { nodes: String(point.nodes), mode: point.mode, handlers: String(point.handlers) } : {}),
    coordination: flags.coordination,
    seed: String(seed),
    ...(faults && !isEmptyPlan(faults) ? { faults: formatFaultPlan(faults) } : {}),
  });
  const where = point ? `, ${point.nodes} workers, ${point.mode} mode, ${point.handlers} handlers` : '';
  if (flags.json) {
    process.stdout.write(
      JSON.stringify({
        mode: flags.mode,
        coordination: flags.coordination,
        seed: flags.seed,
        results: crash.before ?? [],
        crash: {
          kind: crash.kind,
          message: crash.message,
          atMs: round3(crash.atMs),
          seed,
          ...(point ? { nodes: point.nodes, mode: point.mode, handlers: point.handlers } : {}),
          ...(faults ? { faults: formatFaultPlan(faults) } : {}),
          replay,
          ...(crash.detail ? { detail: crash.detail } : {}),
        },
      }) + '\n',
    );
  }
  if (flags.verbose && crash.detail) process.stderr.write(`${crash.detail}\n`);
  process.stderr.write(
    `rollcall simulate: CRASH (${crash.kind}) at virtual ${crash.atMs.toFixed(3)} ms, seed ${seed}${where}: ${firstLine(crash.message)}\n`,
  );
  process.stderr.write(`replay: ${replay}\n`);
  throw new FindingExit(crash.message);
}

/** The command line that replays one cluster: the flags given (those not at their default), with `fixed` overriding. */
function replayCommand(cmd: Command, flags: SimulateFlags, fixed: Record<string, string>): string {
  const args = ['rollcall', 'simulate'];
  const skip = new Set(['seeds', 'json', 'plot', 'verbose', ...Object.keys(fixed)]);
  for (const [k, v] of Object.entries(fixed)) args.push(`--${kebab(k)}`, quote(v));
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (skip.has(key)) continue;
    const value = (flags as unknown as Record<string, unknown>)[key];
    if (value === undefined || value === o.defaultValue || value === false) continue;
    args.push(o.long!, ...(value === true ? [] : [quote(String(value))]));
  }
  return args.join(' ');
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Shell-quotes a value when it needs it (fault specs contain '|'). */
function quote(value: string): string {
  return /^[A-Za-z0-9_.,:@=+/-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** An output file the run will write: refused before the run if it cannot be written. */
function checkOutputFile(flag: string, path: string): void {
  const dir = dirname(resolve(path));
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
    accessSync(dir, fsConstants.W_OK);
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`${flag} ${path}: directory ${dir} does not exist or is not writable`);
  try {
    if (statSync(path).isDirectory()) throw new UsageError(`${flag} ${path} is a directory`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
  }
}

export function formatSimulateReport(r: SimulateReport, showSeries: boolean): string {
  const out: string[] = [];
  const zk = r.coordination === 'zookeeper';
  const seeds = r.seeds > 1;
  out.push(
    `rollcall simulate: ${r.mode} mode, ${Array.isArray(r.handlers) ? r.handlers.join('/') : r.handlers} handlers, seed ${r.seed}${seeds ? `..${r.seed + r.seeds - 1}` : ''}, ${zk ? 'ZooKeeper coordination, ' : ''}latency ${r.latencyMs} ms + jitter ${r.jitterMs} ms, fsync ${r.fsyncMs} ms${r.faults ? `, faults ${r.faults}` : ''}`,
  );
  if (seeds) {
    // Many seeds: one line per cluster (its runs summed up); --json has every run.
    out.push(
      `${'seed'.padStart(6)}  ${'workers'.padStart(7)}  ${'runs'.padStart(5)}  outcomes${' '.repeat(24)}${zk ? 'masters            ' : ''}trace`,
    );
    for (const group of clusters(r.results)) {
      const last = group[group.length - 1]!;
      const counts = ['ok', 'timeout', 'aborted']
        .map((o) => [o, group.filter((p) => p.outcome === o).length] as const)
        .filter(([, n]) => n > 0)
        .map(([o, n]) => `${n} ${o}`)
        .join(', ');
      const masters = [...new Set(group.map((p) => p.master ?? '-'))].join(',');
      out.push(
        `${String(last.seed).padStart(6)}  ${String(last.nodes).padStart(7)}  ${String(group.length).padStart(5)}  ${counts.padEnd(32)}${zk ? masters.padEnd(19) : ''}${last.traceHash}`,
      );
      if (group[0]!.faults) out.push(`        faults: ${group[0]!.faults}`);
    }
  } else {
    const multiRun = r.results.some((p) => p.run > 0);
    out.push(
      `${showSeries ? 'mode    handlers ' : ''}${'workers'.padStart(7)}${multiRun ? '  run' : ''}  outcome  ${'virtual ms'.padStart(11)}  ${'wall ms'.padStart(8)}  ${'events'.padStart(9)}  ${zk ? 'master    ' : ''}trace`,
    );
    for (const p of r.results) {
      out.push(
        `${showSeries ? `${p.mode.padEnd(7)} ${String(p.handlers).padStart(8)} ` : ''}${String(p.nodes).padStart(7)}${multiRun ? String(p.run + 1).padStart(5) : ''}  ${p.outcome.padEnd(7)}  ${p.durationMs.toFixed(3).padStart(11)}  ${String(p.wallMs).padStart(8)}  ${String(p.events).padStart(9)}  ${zk ? (p.master ?? '-').padEnd(10) : ''}${p.traceHash}`,
      );
      if (p.faults && p.run === 0) out.push(`         faults: ${p.faults}`);
      if (p.error) out.push(`         ${clip(p.error)}`);
      if (p.procedureError) out.push(`         master: ${clip(p.procedureError)}`);
    }
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
  if (r.invariants) out.push(`invariants held on every seed: ${r.invariants.join(', ')}`);
  return out.join('\n') + '\n';
}

/** Results grouped by cluster (seed, mode, handlers, size), in order. */
function clusters(results: readonly SimulatePoint[]): SimulatePoint[][] {
  const out: SimulatePoint[][] = [];
  for (const p of results) {
    const last = out[out.length - 1]?.[0];
    if (
      last &&
      p.run > 0 &&
      last.seed === p.seed &&
      last.nodes === p.nodes &&
      last.mode === p.mode &&
      last.handlers === p.handlers
    ) {
      out[out.length - 1]!.push(p);
    } else {
      out.push([p]);
    }
  }
  return out;
}

function clip(text: string): string {
  return text.length > 300 ? text.slice(0, 300) + '…' : text;
}
