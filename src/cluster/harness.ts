// An in-process cluster: a master and N workers, each with its own substrate (the real runtime
// passes TCP and files, the simulator per-node simulated ones), plus a client node for rolllog.
// The harness gives tools (detector, predictor, simulator) every node's ThreadRegistry and a way
// to abort the running procedure.
import { RpcClient } from '../rpc/index.js';
import type { Address, Substrate } from '../substrate/types.js';
import { ThreadRegistry, type LogicalThread } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { BackupAdminClient, type RolllogRequest, type RolllogRunResult } from './client.js';
import { MASTER_DEFAULTS, ROLLLOG_NAME, type MasterConfig, type WorkerConfig } from './config.js';
import { Master } from './master.js';
import { Worker } from './worker.js';

/** Bound on workers per cluster (the simulator's 10,000 with room). */
export const MAX_CLUSTER_WORKERS = 20_000;
export const CLIENT_NODE = 'client';
/** Workers started at once by default. */
export const DEFAULT_START_CONCURRENCY = 256;

export interface ClusterSpec {
  workers: number;
  /** The substrate of one node: 'master', 'worker-1'…, and 'client'. */
  substrateFor: (node: string) => Substrate;
  dataDirFor: (node: string) => string;
  /** Listen address per node (default 127.0.0.1, any port). */
  listenFor?: (node: string) => Address;
  workerName?: (index: number) => string;
  master?: Partial<Omit<MasterConfig, 'listen' | 'dataDir'>>;
  worker?: Partial<Omit<WorkerConfig, 'name' | 'listen' | 'dataDir' | 'master' | 'masterName'>>;
  /** Per-node overrides, e.g. an admin URL known before the node starts. */
  workerOverrides?: (node: string) => Partial<WorkerConfig>;
  /** Called for each node after it is built and before it starts (e.g. to start its admin listener). */
  prepareNode?: (node: Master | Worker) => Promise<void>;
  /** Workers started at once (each registers with the master). */
  startConcurrency?: number;
  log?: (message: string) => void;
}

export class Cluster {
  readonly clientThreads: ThreadRegistry;
  private readonly clientRpc: RpcClient;
  private readonly clientThread: LogicalThread;
  private readonly admin: BackupAdminClient;
  private stopped = false;

  constructor(
    readonly spec: ClusterSpec,
    private masterNode: Master,
    readonly workers: Worker[],
  ) {
    const substrate = spec.substrateFor(CLIENT_NODE);
    this.clientThreads = new ThreadRegistry(CLIENT_NODE, 'client', substrate.pid, substrate.clock);
    this.clientThread = this.clientThreads.spawn('main', { daemon: false });
    this.clientRpc = new RpcClient({ node: CLIENT_NODE, substrate });
    this.admin = new BackupAdminClient(this.clientRpc, masterNode.peer, substrate.clock, this.clientThread);
  }

  get master(): Master {
    return this.masterNode;
  }

  /** Every node's registry: master first, then workers in order, then the client. */
  registries(): ThreadRegistry[] {
    return [this.master.threads, ...this.workers.map((w) => w.threads), this.clientThreads];
  }

  /**
   * Aborts the running procedure (default: rolllog) with `reason`; a ForeignException keeps its
   * own source, anything else is attributed to `source` (e.g. 'deadlock-detector').
   */
  abortProcedure(reason: string | Error, options: { name?: string; source?: string } = {}): boolean {
    return this.master.abortProcedure(options.name ?? ROLLLOG_NAME, reason, options.source ?? 'operator');
  }

  get client(): BackupAdminClient {
    return this.admin;
  }

  /** Runs one rolllog from the client node. */
  rolllog(req: Partial<RolllogRequest> = {}): Promise<RolllogRunResult> {
    const m = this.master.config;
    return this.admin.rolllog({
      ...req,
      mode: req.mode ?? m.defaultMode,
      rpcTimeoutMs: req.rpcTimeoutMs ?? m.rpcTimeoutMs,
      procedureTimeoutMs: req.procedureTimeoutMs ?? m.procedureTimeoutMs,
    });
  }

  /**
   * Replaces worker i with a new one on the same data directory (its WAL reopens), as after a
   * crash; `substrate` is the node's new substrate (default: the spec's). With `crashed`, the
   * old worker is not stopped: its process is gone (in the simulator its I/O never completes).
   */
  async restartWorker(i: number, substrate?: Substrate, options: { crashed?: boolean } = {}): Promise<Worker> {
    const old = this.workers[i];
    assert(old, `no worker ${i}`);
    if (!options.crashed) await old.stop();
    const w = createWorker(this.spec, this.master, old.name, substrate);
    await this.spec.prepareNode?.(w);
    await w.start();
    this.workers[i] = w;
    return w;
  }

  /**
   * Replaces the master with a new one on the same address and data directory (its backup table
   * reopens); workers find it again through their periodic reports.
   */
  async restartMaster(substrate?: Substrate): Promise<Master> {
    const old = this.masterNode;
    await old.stop();
    const m = new Master(
      { ...old.config, listen: old.address, advertise: old.address },
      substrate ?? this.spec.substrateFor(old.name),
    );
    await this.spec.prepareNode?.(m);
    await m.start();
    this.masterNode = m;
    return m;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clientRpc.close();
    // The master stops too: thousands of workers need not each tell it they leave.
    await Promise.all(this.workers.map((w) => w.stop({ leave: false })));
    await this.master.stop();
  }
}

function createWorker(spec: ClusterSpec, master: Master, name: string, substrate?: Substrate): Worker {
  return new Worker(
    {
      ...spec.worker,
      name,
      listen: spec.listenFor?.(name) ?? { host: '127.0.0.1', port: 0 },
      dataDir: spec.dataDirFor(name),
      master: master.address,
      masterName: master.name,
      ...(spec.log ? { log: spec.log } : {}),
      ...spec.workerOverrides?.(name),
    },
    substrate ?? spec.substrateFor(name),
  );
}

export function defaultWorkerName(index: number): string {
  return `worker-${index + 1}`;
}

/** Starts the master, then every worker (each registers); stops what started if anything fails. */
export async function startCluster(spec: ClusterSpec): Promise<Cluster> {
  assert(
    Number.isInteger(spec.workers) && spec.workers >= 0 && spec.workers <= MAX_CLUSTER_WORKERS,
    `workers must be 0..${MAX_CLUSTER_WORKERS}`,
  );
  const masterName = spec.master?.name ?? MASTER_DEFAULTS.name;
  const master = new Master(
    {
      ...spec.master,
      name: masterName,
      listen: spec.listenFor?.(masterName) ?? { host: '127.0.0.1', port: 0 },
      dataDir: spec.dataDirFor(masterName),
      ...(spec.log ? { log: spec.log } : {}),
    },
    spec.substrateFor(masterName),
  );
  try {
    await spec.prepareNode?.(master);
    await master.start();
  } catch (err) {
    // A master that bound its listener and then failed (coordination unreachable) must not keep it.
    await master.stop().catch(() => {});
    throw err;
  }
  const names = Array.from({ length: spec.workers }, (_, i) => (spec.workerName ?? defaultWorkerName)(i));
  assert(new Set(names).size === names.length, 'worker names must be unique');
  const workers = names.map((n) => createWorker(spec, master, n));
  const concurrency = Math.max(1, spec.startConcurrency ?? DEFAULT_START_CONCURRENCY);
  try {
    for (let i = 0; i < workers.length; i += concurrency) {
      await Promise.all(
        workers.slice(i, i + concurrency).map(async (w) => {
          await spec.prepareNode?.(w);
          await w.start();
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await master.stop();
    throw err;
  }
  return new Cluster(spec, master, workers);
}
