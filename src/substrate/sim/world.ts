// SimWorld: the deterministic simulated substrate. One world holds a scheduler (virtual time),
// a network fabric, and named nodes; each node incarnation gets a Substrate (clock, network,
// disk, random, pid) that protocol code uses exactly as it uses the real one. Faults — message
// drops, duplicates, reordering, partitions, crashes and restarts — are injected through the
// world, at virtual times, and every run folds its ordered events into a trace hash.
import type { Clock, Random, Substrate, TimerHandle } from '../types.js';
import { assert } from '../../util/assert.js';
import { DEFAULT_DISK, DEFAULT_MAX_DISK_BYTES, DiskBudget, DiskState, SimDisk, type DiskModel } from './disk.js';
import {
  DEFAULT_LINK,
  DEFAULT_SIM_MAX_FRAME_BYTES,
  NO_MESSAGE_FAULTS,
  SimFabric,
  SimNetwork,
  type LinkModel,
  type MessageFaults,
  type NetworkStats,
} from './network.js';
import { SimNode } from './node.js';
import { SimRandom } from './random.js';
import { EventKind, Scheduler, type RunStatus, type SchedulerLimits } from './scheduler.js';

export interface SimWorldOptions {
  /** Determines every random choice of the run. */
  seed: number;
  /**
   * Yields one macrotask (e.g. setImmediate) so microtasks drain between events. Injected: the
   * simulator itself never touches the host's scheduling.
   */
  hop: () => Promise<void>;
  /** Real monotonic milliseconds, only to enforce limits.maxWallMs. */
  wallClockMs?: () => number;
  link?: Partial<LinkModel>;
  faults?: Partial<MessageFaults>;
  disk?: Partial<DiskModel>;
  limits?: Partial<SchedulerLimits>;
  maxFrameBytes?: number;
  maxDiskBytes?: number;
  /** Wall-clock epoch of virtual time 0, so simulated dumps carry stable timestamps. */
  epochMs?: number;
  /** Where the network reports dropped connections and bad frames. */
  log?: (message: string) => void;
}

/** Bound on nodes in one world. */
export const MAX_SIM_NODES = 100_000;
/** 2023-11-14T22:13:20Z: an arbitrary fixed epoch for simulated wall clocks. */
export const DEFAULT_SIM_EPOCH_MS = 1_700_000_000_000;
const FIRST_SIM_PID = 10_000;

class SimClock implements Clock {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly node: SimNode,
    private readonly incarnation: number,
    private readonly epochMs: number,
  ) {}

  nowMs(): number {
    return this.scheduler.nowMs;
  }

  wallMs(): number {
    return this.epochMs + this.scheduler.nowMs;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    // A crashed incarnation's timers never fire; an infinite delay is a deadline that never comes.
    if (this.node.incarnation !== this.incarnation || delayMs === Infinity) return Scheduler.never;
    return this.scheduler.timer(delayMs, fn, this.node);
  }
}

/** The substrate of one node incarnation. */
export class SimSubstrate implements Substrate {
  readonly clock: Clock;
  readonly network: SimNetwork;
  readonly disk: SimDisk;
  readonly random: Random;
  readonly pid: number;

  constructor(
    readonly world: SimWorld,
    private readonly simNode: SimNode,
    readonly incarnation: number,
  ) {
    const seed = world.seed;
    const label = `${simNode.name}#${incarnation}`;
    this.clock = new SimClock(world.scheduler, simNode, incarnation, world.epochMs);
    this.network = new SimNetwork(world.fabric, simNode, incarnation);
    this.disk = new SimDisk(
      simNode.disk,
      simNode,
      incarnation,
      world.scheduler,
      world.diskModel,
      SimRandom.derive(seed, `disk:${label}`),
    );
    this.random = SimRandom.derive(seed, `node:${label}`);
    this.pid = simNode.pid;
  }

  /** The node's name: also the host it should listen on. */
  get node(): string {
    return this.simNode.name;
  }

  /** False once this incarnation crashed: its code is a ghost and its I/O goes nowhere. */
  get alive(): boolean {
    return this.simNode.incarnation === this.incarnation && this.simNode.alive;
  }
}

export interface WorldStats extends NetworkStats {
  nodes: number;
  nodesAlive: number;
  crashes: number;
  restarts: number;
  eventsRun: number;
  eventsSkipped: number;
  eventsQueued: number;
  openConnections: number;
  diskBytes: number;
  diskBytesLostToCrashes: number;
  virtualMs: number;
}

export class SimWorld {
  readonly seed: number;
  readonly scheduler: Scheduler;
  readonly fabric: SimFabric;
  readonly diskModel: DiskModel;
  readonly epochMs: number;
  private readonly nodes = new Map<string, SimNode>();
  private readonly substrates = new Map<string, SimSubstrate>();
  private readonly diskBudget: DiskBudget;
  private readonly crashRng: SimRandom;
  private restarts = 0;
  private diskBytesLost = 0;

  constructor(private readonly options: SimWorldOptions) {
    assert(Number.isInteger(options.seed), `seed must be an integer, not ${options.seed}`);
    this.seed = options.seed | 0;
    this.epochMs = options.epochMs ?? DEFAULT_SIM_EPOCH_MS;
    this.scheduler = new Scheduler({ hop: options.hop, wallClockMs: options.wallClockMs, limits: options.limits });
    this.fabric = new SimFabric(
      this.scheduler,
      SimRandom.derive(this.seed, 'network'),
      { ...DEFAULT_LINK, ...options.link },
      { ...NO_MESSAGE_FAULTS, ...options.faults },
      options.maxFrameBytes ?? DEFAULT_SIM_MAX_FRAME_BYTES,
      options.log ?? (() => {}),
    );
    this.diskModel = { ...DEFAULT_DISK, ...options.disk };
    assert(this.diskModel.fsyncMs >= 0 && this.diskModel.appendMs >= 0, 'disk latencies must be >= 0');
    this.diskBudget = new DiskBudget(options.maxDiskBytes ?? DEFAULT_MAX_DISK_BYTES);
    this.crashRng = SimRandom.derive(this.seed, 'crash');
  }

  get nowMs(): number {
    return this.scheduler.nowMs;
  }

  get eventsRun(): number {
    return this.scheduler.eventsRun;
  }

  /** 16 hex digits over every event so far (deliveries with their bytes, timers, faults, outcomes). */
  get traceHash(): string {
    return this.scheduler.trace.hex();
  }

  /** Adds a node and returns its first substrate; listen on `{host: name, port}`. */
  addNode(name: string): SimSubstrate {
    assert(/^[A-Za-z0-9._-]+$/.test(name), `node name '${name}' must be [A-Za-z0-9._-]+ (it is a host name)`);
    assert(!this.nodes.has(name), `node ${name} already exists`);
    assert(this.nodes.size < MAX_SIM_NODES, `more than ${MAX_SIM_NODES} simulated nodes`);
    const node = new SimNode(this.nodes.size, name, FIRST_SIM_PID + this.nodes.size, new DiskState(this.diskBudget));
    this.nodes.set(name, node);
    const s = new SimSubstrate(this, node, node.incarnation);
    this.substrates.set(name, s);
    return s;
  }

  /** The current incarnation's substrate. */
  substrate(name: string): SimSubstrate {
    const s = this.substrates.get(name);
    assert(s, `no simulated node ${name}`);
    return s;
  }

  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  isAlive(name: string): boolean {
    return this.node(name).alive;
  }

  /**
   * Crashes a node (power loss): its timers and pending I/O never complete, its listeners vanish,
   * peers see its connections reset after one link delay, and its disk keeps only synced bytes
   * (plus a torn prefix of the rest when the disk model says so).
   */
  crash(name: string): void {
    const node = this.node(name);
    assert(node.alive, `node ${name} is already down`);
    this.record(`crash ${name}`);
    node.alive = false;
    node.incarnation++;
    node.crashes++;
    this.fabric.crashNode(node);
    this.diskBytesLost += node.disk.crash(this.crashRng, this.diskModel.tornWrites).lostBytes;
  }

  /** Brings a crashed node back with an empty process and its surviving disk. */
  restart(name: string): SimSubstrate {
    const node = this.node(name);
    assert(!node.alive, `node ${name} is running; crash it before restarting`);
    this.record(`restart ${name}`);
    node.alive = true;
    this.restarts++;
    const s = new SimSubstrate(this, node, node.incarnation);
    this.substrates.set(name, s);
    return s;
  }

  /** Cuts links between node sets (b defaults to every other node); returns an id for heal(). */
  partition(a: readonly string[], b?: readonly string[]): number {
    for (const n of [...a, ...(b ?? [])]) this.node(n);
    this.record(`partition ${a.join('|')} / ${b?.join('|') ?? '*'}`);
    return this.fabric.partition(a, b);
  }

  heal(id: number): void {
    this.record(`heal ${id}`);
    this.fabric.heal(id);
  }

  /** Runs fn at an absolute virtual time (fault injection, scenario steps); owned by no node. */
  at(timeMs: number, label: string, fn: () => void): TimerHandle {
    assert(timeMs >= this.scheduler.nowMs, `cannot schedule '${label}' in the past (${timeMs} < ${this.nowMs})`);
    return this.scheduler.timer(
      timeMs - this.scheduler.nowMs,
      () => {
        this.scheduler.trace.string(label);
        fn();
      },
      null,
      EventKind.fault,
    );
  }

  /** Folds a labelled fact (an outcome, a fault) into the trace hash. */
  record(label: string): void {
    this.scheduler.trace.string(label);
  }

  /**
   * Runs until `until` settles (a promise) or holds (a predicate), or until nothing is left to
   * run ('idle' — the simulated system is stuck with no timer that could unstick it).
   */
  async run(until: Promise<unknown> | (() => boolean)): Promise<RunStatus> {
    let pred: () => boolean;
    if (typeof until === 'function') {
      pred = until;
    } else {
      let settled = false;
      until.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      pred = () => settled;
    }
    // Let setup code's microtasks run at time zero before the first event.
    await this.options.hop();
    return this.scheduler.run(pred);
  }

  /** Runs for durationMs of virtual time (or until idle). */
  async runFor(durationMs: number): Promise<RunStatus> {
    let reached = false;
    this.at(this.nowMs + durationMs, `run-for ${durationMs}`, () => {
      reached = true;
    });
    return this.run(() => reached);
  }

  stats(): WorldStats {
    let alive = 0;
    let crashes = 0;
    let diskBytes = 0;
    for (const n of this.nodes.values()) {
      if (n.alive) alive++;
      crashes += n.crashes;
    }
    diskBytes = this.diskBudget.usedBytes;
    return {
      ...this.fabric.stats,
      nodes: this.nodes.size,
      nodesAlive: alive,
      crashes,
      restarts: this.restarts,
      eventsRun: this.scheduler.eventsRun,
      eventsSkipped: this.scheduler.eventsSkipped,
      eventsQueued: this.scheduler.queued,
      openConnections: this.fabric.openConnections,
      diskBytes,
      diskBytesLostToCrashes: this.diskBytesLost,
      virtualMs: this.scheduler.nowMs,
    };
  }

  private node(name: string): SimNode {
    const n = this.nodes.get(name);
    assert(n, `no simulated node ${name}`);
    return n;
  }
}
