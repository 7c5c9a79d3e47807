// Runs the real cluster (master, workers, barrier, RPC, WAL, backup table) on the simulated
// substrate: one SimWorld per cluster size, the cluster built by the same harness the real
// runtime uses, rolllog driven from the client node, faults injected at virtual times.
import {
  CLIENT_NODE,
  MASTER_DEFAULTS,
  type BackupAdminClient,
  ROLLLOG_NAME,
  defaultWorkerName,
  startCluster,
  type Cluster,
  type MasterConfig,
  type RolllogMode,
  type RolllogRunResult,
  type Worker,
  type WorkerConfig,
} from '../cluster/index.js';
import { SimWorld, type DiskModel, type LinkModel, type SchedulerLimits } from '../substrate/sim/index.js';
import { assert } from '../util/assert.js';
import { CrashWatch, SimCrash, crashFrom, driveWorld } from './crash.js';
import { createHop, realElapsedMs } from './drive.js';
import { FaultSpecError, applyFaultPlan, emptyPlan, type FaultPlan } from './faults.js';

/** Protocol outcomes: the only results a simulated run has (anything else is a SimCrash). */
export type SimOutcome = 'ok' | 'timeout' | 'aborted';

export interface SimRunOptions {
  /** Workers in the cluster (plus a master and a client node). */
  workers: number;
  mode: RolllogMode;
  /** The master's default-pool handlers. */
  handlers: number;
  seed: number;
  link?: Partial<LinkModel>;
  disk?: Partial<DiskModel>;
  /** The master's work per legacy sanity check before its nested call. */
  checkCostMs?: number;
  rpcTimeoutMs?: number;
  procedureTimeoutMs?: number;
  faults?: FaultPlan;
  /** Rolllogs run one after another on the same cluster (e.g. one during a partition, one after). */
  runs?: number;
  /** Virtual pause between one rolllog's end and the next one's start. */
  runGapMs?: number;
  limits?: Partial<SchedulerLimits>;
  /** Further master and worker settings (pool sizes, member timer, ...). */
  master?: Partial<Omit<MasterConfig, 'listen' | 'dataDir'>>;
  worker?: Partial<Omit<WorkerConfig, 'name' | 'listen' | 'dataDir' | 'master' | 'masterName'>>;
  /** Called once the cluster is up, before the first rolllog: tests and tools attach here. */
  onClusterUp?: (sim: SimCluster) => void;
  /** Called after each rolllog with its result. */
  onRunEnd?: (sim: SimCluster, result: SimRunResult) => void;
  /** Node log lines (dropped connections, aborts); default: discarded. */
  log?: (message: string) => void;
}

/** One rolllog of one simulated cluster: the JSON contract's result entry (plus extras). */
export interface SimRunResult {
  nodes: number;
  /** Index of the rolllog within its cluster (0 unless runs > 1). */
  run: number;
  outcome: SimOutcome;
  /** Virtual milliseconds from the client's call to its outcome. */
  durationMs: number;
  /** Real milliseconds this result took to simulate (cluster startup included for run 0). */
  wallMs: number;
  /** Trace hash of the world after this rolllog (covers startup and earlier runs). */
  traceHash: string;
  /** Events the world executed up to the end of this rolllog. */
  events: number;
  error?: string;
  /** Virtual and real time the cluster took to start (run 0 only). */
  startupMs?: number;
  startupWallMs?: number;
  /** Per-phase times the master reported, ms from the procedure start. */
  phasesMs?: Record<string, number | undefined>;
  /** The master's procedure id for this rolllog, when it answered with one. */
  procId?: number;
  /** The run's instance (unique across masters), when the master gave one. */
  instance?: string;
  /** The master that gave the outcome (with ZooKeeper coordination, the active one at the end). */
  master?: string;
  /** When the rolllog failed: the error the master's procedure ended with, if it differs from error. */
  procedureError?: string;
}

export const SIM_DEFAULTS = {
  latencyMs: 0.25,
  jitterMs: 0.05,
  fsyncMs: 1,
  checkCostMs: 20,
  rpcTimeoutMs: 60_000,
  procedureTimeoutMs: 60_000,
  /** Simulated master listen port (HBase's) and worker port. */
  masterPort: 16000,
  workerPort: 16020,
} as const;

/** Bound on rolllogs per cluster. */
export const MAX_RUNS_PER_CLUSTER = 1000;

/**
 * A started cluster on a fresh simulated world, with the fault plan scheduled. Drive it with
 * rolllog() and settle(); close() when done (it detaches the unhandled-rejection watch).
 */
export class SimCluster {
  readonly workerNames: readonly string[];
  /** Virtual and real milliseconds the cluster took to start. */
  readonly startupMs: number;
  readonly startupWallMs: number;
  /** Virtual time of the first rolllog: fault times count from here. */
  readonly originMs: number;
  private runs = 0;
  private closed = false;

  private constructor(
    readonly world: SimWorld,
    readonly cluster: Cluster,
    readonly options: SimRunOptions,
    workerNames: string[],
    startupWallMs: number,
    private readonly crashes: CrashWatch,
  ) {
    this.workerNames = workerNames;
    this.startupMs = world.nowMs;
    this.startupWallMs = startupWallMs;
    this.originMs = world.nowMs;
  }

  /** Builds the world and starts master, workers and client on it; throws if startup fails or stalls. */
  static async start(opts: SimRunOptions): Promise<SimCluster> {
    assert(Number.isInteger(opts.workers) && opts.workers >= 1, 'a simulated cluster needs at least one worker');
    const wallStart = realElapsedMs();
    const world = simWorldFor(opts);
    const masterName = opts.master?.name ?? MASTER_DEFAULTS.name;
    // Every node is added up front in a fixed order, so node indices (and the trace) do not
    // depend on the order in which the harness asks for substrates.
    world.addNode(masterName);
    const workerNames = Array.from({ length: opts.workers }, (_, i) => defaultWorkerName(i));
    for (const n of workerNames) world.addNode(n);
    world.addNode(CLIENT_NODE);
    const rpcTimeoutMs = opts.rpcTimeoutMs ?? SIM_DEFAULTS.rpcTimeoutMs;
    const procedureTimeoutMs = opts.procedureTimeoutMs ?? SIM_DEFAULTS.procedureTimeoutMs;
    const crashes = new CrashWatch(() => world.nowMs);
    world.scheduler.afterEvent = () => crashes.check();
    const starting = startCluster({
      workers: opts.workers,
      substrateFor: (node) => world.substrate(node),
      dataDirFor: (node) => `/data/${node}`,
      listenFor: (node) => ({
        host: node,
        port: node === masterName ? SIM_DEFAULTS.masterPort : SIM_DEFAULTS.workerPort,
      }),
      workerName: defaultWorkerName,
      master: {
        handlers: opts.handlers,
        checkCostMs: opts.checkCostMs ?? SIM_DEFAULTS.checkCostMs,
        rpcTimeoutMs,
        procedureTimeoutMs,
        defaultMode: opts.mode,
        ...opts.master,
      },
      worker: { rpcTimeoutMs, memberTimeoutMs: procedureTimeoutMs, ...opts.worker },
      ...(opts.log ? { log: opts.log } : {}),
    });
    let cluster: Cluster;
    try {
      if ((await world.run(starting)) === 'idle') {
        throw new SimCrash(
          'stall',
          `the simulated cluster never finished starting (stalled at virtual ${world.nowMs.toFixed(3)} ms)`,
          world.nowMs,
        );
      }
      cluster = await starting;
    } catch (err) {
      crashes.close();
      throw crashFrom(err, world.nowMs);
    }
    world.record('cluster up');
    const sc = new SimCluster(world, cluster, opts, workerNames, realElapsedMs() - wallStart, crashes);
    try {
      const faults = opts.faults ?? emptyPlan();
      for (const r of faults.restarts) {
        if (!workerNames.includes(r.node)) throw new FaultSpecError(`restart=${r.node}: only workers can be restarted`);
      }
      applyFaultPlan(world, faults, sc.originMs, { restarted: (node) => sc.restartWorker(node) });
    } catch (err) {
      sc.close();
      throw err;
    }
    return sc;
  }

  get rpcTimeoutMs(): number {
    return this.options.rpcTimeoutMs ?? SIM_DEFAULTS.rpcTimeoutMs;
  }

  get procedureTimeoutMs(): number {
    return this.options.procedureTimeoutMs ?? SIM_DEFAULTS.procedureTimeoutMs;
  }

  /**
   * Runs one rolllog from the client node until it ends. A world that runs out of events while
   * the rolllog is pending, passes a limit, or meets a bug throws a SimCrash.
   */
  async rolllog(): Promise<SimRunResult> {
    assert(!this.closed, 'simulated cluster is closed');
    const { raw, startedMs, result } = await runClientRolllog({
      world: this.world,
      options: this.options,
      client: this.cluster.client,
      run: this.runs++,
      startupMs: this.startupMs,
      startupWallMs: this.startupWallMs,
      drive: (until) => this.drive(until),
    });
    if (raw.outcome === 'ok') return result;
    const procedureError = await this.procedureErrorSince(startedMs);
    return procedureError !== undefined && procedureError !== raw.error ? { ...result, procedureError } : result;
  }

  /** Lets durationMs of virtual time pass (aborts propagate, member timers fire). */
  async settle(durationMs: number): Promise<void> {
    // Running out of events while settling is fine: the cluster is quiet.
    await this.drive(() => this.world.runFor(durationMs));
  }

  /** The current Worker object of a node (a restart replaces it). */
  worker(name: string): Worker {
    const w = this.cluster.workers.find((x) => x.name === name);
    assert(w, `no worker ${name}`);
    return w;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.world.scheduler.afterEvent = null;
    this.crashes.close();
  }

  private restartWorker(node: string): void {
    const i = this.cluster.workers.findIndex((w) => w.name === node);
    assert(i >= 0, `no worker ${node} to restart`);
    // The old worker's process is gone; the harness builds a new one on the surviving disk.
    void this.cluster.restartWorker(i, this.world.substrate(node), { crashed: true }).catch((err: unknown) => {
      this.options.log?.(`restart of ${node} failed: ${(err as Error).message}`);
    });
  }

  private drive(until: Promise<unknown> | (() => Promise<unknown>)): Promise<void> {
    return driveWorld(this.world, this.crashes, until, 'the rolllog never ended');
  }

  /**
   * The master-side error of the rolllog procedure started since `sinceMs`. A legacy client sees
   * only its call timing out; the procedure's own error names the member it waited for. If the
   * procedure still runs, virtual time goes on until it ends (its timer bounds the wait).
   */
  private async procedureErrorSince(sinceMs: number): Promise<string | undefined> {
    if (!this.world.isAlive(this.cluster.master.name)) return undefined;
    const proc = this.cluster.master.coordinator.latest(ROLLLOG_NAME);
    if (proc === undefined || proc.phaseTimes.startedMs < sinceMs) return undefined;
    if (proc.outcome === undefined) {
      let ended = false;
      void proc.completion.then(() => (ended = true));
      const limitMs = proc.deadlineMs + this.rpcTimeoutMs;
      await this.drive(() => this.world.run(() => ended || this.world.nowMs > limitMs));
    }
    return proc.outcome?.error?.message;
  }
}

/**
 * Builds a world and a cluster of `workers` workers, runs `runs` rolllogs and returns one result
 * per rolllog. Never hangs: every wait is bounded by the world's limits; a world with nothing left
 * to do while a rolllog is pending, or any bug, throws a SimCrash.
 */
export async function runSimulation(opts: SimRunOptions): Promise<SimRunResult[]> {
  const runs = opts.runs ?? 1;
  assert(
    Number.isInteger(runs) && runs >= 1 && runs <= MAX_RUNS_PER_CLUSTER,
    `runs must be 1..${MAX_RUNS_PER_CLUSTER}`,
  );
  const sc = await SimCluster.start(opts);
  try {
    opts.onClusterUp?.(sc);
    const results: SimRunResult[] = [];
    for (let run = 0; run < runs; run++) {
      const r = await sc.rolllog();
      results.push(r);
      opts.onRunEnd?.(sc, r);
    }
    return results;
  } finally {
    sc.close();
  }
}

/** A simulated world with the simulator's link and disk defaults, the run's seed and limits. */
export function simWorldFor(opts: SimRunOptions): SimWorld {
  return new SimWorld({
    seed: opts.seed,
    hop: createHop(),
    wallClockMs: realElapsedMs,
    link: { latencyMs: SIM_DEFAULTS.latencyMs, jitterMs: SIM_DEFAULTS.jitterMs, ...opts.link },
    disk: { fsyncMs: SIM_DEFAULTS.fsyncMs, ...opts.disk },
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

/** What runClientRolllog needs of a simulated cluster. */
export interface RolllogDriver {
  world: SimWorld;
  options: SimRunOptions;
  client: BackupAdminClient;
  /** This rolllog's index within its cluster. */
  run: number;
  startupMs: number;
  startupWallMs: number;
  drive: (until: Promise<unknown> | (() => Promise<unknown>)) => Promise<void>;
}

/**
 * One rolllog from a cluster's client (after the run gap and, for a later run, once the previous
 * one no longer runs), recorded in the trace; returns the client's result and the JSON entry.
 */
export async function runClientRolllog(
  d: RolllogDriver,
): Promise<{ raw: RolllogRunResult; startedMs: number; result: SimRunResult }> {
  const { world, options, client, run } = d;
  const rpcTimeoutMs = options.rpcTimeoutMs ?? SIM_DEFAULTS.rpcTimeoutMs;
  const procedureTimeoutMs = options.procedureTimeoutMs ?? SIM_DEFAULTS.procedureTimeoutMs;
  const wallStart = realElapsedMs();
  if (run > 0) {
    if (options.runGapMs) await d.drive(() => world.runFor(options.runGapMs!));
    // After a run that did not end ok, wait (virtually) until no rolllog runs on the master, so
    // the next one is not rejected as a duplicate.
    await d.drive(client.waitForProcedureEnd(ROLLLOG_NAME, procedureTimeoutMs + rpcTimeoutMs));
  }
  const startedMs = world.nowMs;
  const pending = client.rolllog({ mode: options.mode, rpcTimeoutMs, procedureTimeoutMs });
  await d.drive(pending);
  const raw = await pending;
  const outcome = simOutcome(raw);
  const master = raw.result?.master;
  world.record(`rolllog ${run} ${outcome} ${raw.durationMs} ${master ?? '-'}`);
  const result: SimRunResult = {
    nodes: options.workers,
    run,
    outcome,
    durationMs: round3(raw.durationMs),
    wallMs: Math.round(realElapsedMs() - wallStart + (run === 0 ? d.startupWallMs : 0)),
    traceHash: world.traceHash,
    events: world.eventsRun,
    ...(master ? { master } : {}),
    ...(raw.error !== undefined ? { error: raw.error } : {}),
    ...(run === 0 ? { startupMs: round3(d.startupMs), startupWallMs: Math.round(d.startupWallMs) } : {}),
    ...(raw.result?.phasesMs ? { phasesMs: raw.result.phasesMs } : {}),
    ...(raw.result?.procId !== undefined ? { procId: raw.result.procId } : {}),
    ...(raw.result?.instance ? { instance: raw.result.instance } : {}),
  };
  return { raw, startedMs, result };
}

/** The client's view as a protocol outcome: a failed rolllog was aborted (rejected, or ended by an error). */
export function simOutcome(r: RolllogRunResult): SimOutcome {
  return r.outcome === 'failed' ? 'aborted' : r.outcome;
}

export function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
