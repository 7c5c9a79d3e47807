// The invariants every seed of a ZooKeeper-coordinated simulation is held to:
// - one-active-coordinator: at every instant (after every event) at most one live master is active;
// - runs-end-once: a run the client was told ended ok has exactly one backup-table row per member
//   in the table of the master that told it (fixed mode), no table holds a run's row for a member
//   twice, and no run is still running anywhere once the cluster settled: every run ended and its
//   client was told how (ok, timeout or aborted);
// - members-leave-barrier: once settled, no live worker is still inside a run's barrier;
// - znodes-clean: once settled, no run's znodes are left, every ephemeral znode belongs to a live
//   session, and masters/active names the live, active master.
// A broken invariant is a SimCrash, never a result.
import type { BackupRow, Master, RolllogMode, Worker } from '../cluster/index.js';
import { ROLLLOG_NAME } from '../cluster/index.js';
import type { SimWorld } from '../substrate/sim/index.js';
import type { SimZooKeeperServer } from '../substrate/sim/zookeeper/index.js';
import { NO_SESSION } from '../substrate/zookeeper.js';
import { SimCrash } from './crash.js';
import type { SimOutcome } from './run.js';

export const INVARIANTS = ['one-active-coordinator', 'runs-end-once', 'members-leave-barrier', 'znodes-clean'] as const;
export type InvariantName = (typeof INVARIANTS)[number];

export interface MonitoredCluster {
  /** Every master incarnation ever started (ghosts of crashed ones included), oldest first. */
  masters: () => readonly { name: string; master: Master }[];
  /** The latest incarnation of each master, by name. */
  latestMasters: ReadonlyMap<string, Master>;
  /** The current incarnation of every worker. */
  workers: () => readonly { name: string; worker: Worker }[];
  server: SimZooKeeperServer;
  chroot: string;
  mode: RolllogMode;
}

export interface RunRecord {
  run: number;
  outcome: SimOutcome;
  /** The master that gave the outcome, when one did. */
  master?: string;
  instance?: string;
  startedMs: number;
  endedMs: number;
}

/** Bound on distinct (master, run, member) rows remembered: far above any simulated workload. */
const MAX_TRACKED_ROWS = 10_000_000;

export class InvariantMonitor {
  private readonly runs: RunRecord[] = [];
  /** Per master name: how many times each (instance, server) row was made durable. */
  private readonly rows = new Map<string, Map<string, number>>();
  private tracked = 0;

  constructor(
    private readonly world: SimWorld,
    private readonly cluster: MonitoredCluster,
  ) {}

  /** one-active-coordinator, after every event (so: no allocation). */
  checkInstant(): void {
    let active: string | undefined;
    for (const [name, master] of this.cluster.latestMasters) {
      if (!master.isActive || !this.world.isAlive(name)) continue;
      if (active !== undefined) {
        const t = this.world.nowMs;
        throw new SimCrash(
          'invariant',
          `invariant one-active-coordinator broken at virtual ${t.toFixed(3)} ms: ${active} and ${name} are both active masters`,
          t,
        );
      }
      active = name;
    }
  }

  noteRows(master: string, rows: readonly BackupRow[]): void {
    let perMaster = this.rows.get(master);
    if (!perMaster) this.rows.set(master, (perMaster = new Map()));
    for (const r of rows) {
      const k = `${r.procedure ?? '?'}\u0000${r.server}`;
      const n = perMaster.get(k) ?? 0;
      if (n === 0 && ++this.tracked > MAX_TRACKED_ROWS)
        throw new SimCrash('limit', 'too many backup rows to track', this.world.nowMs);
      perMaster.set(k, n + 1);
    }
  }

  noteRun(r: RunRecord): void {
    this.runs.push(r);
  }

  /** The crash itself is the world's; recorded in the trace so a replay shows it. */
  noteCrash(node: string): void {
    this.world.record(`crashed ${node}`);
  }

  /** Whether the cluster has settled: nothing runs, nothing is left over, one master leads. */
  settled(): boolean {
    return this.unsettled() === undefined;
  }

  /** The first broken end-state invariant, as a one-line message, or undefined. */
  checkEnd(): string | undefined {
    const runs = this.checkRuns();
    if (runs) return `invariant runs-end-once broken: ${runs}`;
    const left = this.unsettled();
    return left;
  }

  private checkRuns(): string | undefined {
    for (const [master, perMaster] of this.rows) {
      for (const [k, n] of perMaster) {
        if (n > 1) {
          const [instance, server] = k.split('\u0000');
          return `${master} wrote the backup-table row of ${server} for run ${instance} ${n} times`;
        }
      }
    }
    for (const r of this.runs) {
      if (r.outcome !== 'ok' || this.cluster.mode !== 'fixed') continue;
      if (!r.instance || !r.master) return `run ${r.run} ended ok without naming its instance and master`;
      const proc = this.cluster
        .masters()
        .filter((m) => m.name === r.master)
        .map((m) => m.master.coordinator.findByInstance(r.instance!))
        .find((p) => p?.outcome?.ok);
      if (!proc) return `run ${r.run} (${r.instance}) was reported ok by ${r.master}, which never completed it`;
      const perMaster = this.rows.get(r.master);
      const missing = proc.members.filter((m) => (perMaster?.get(`${r.instance}\u0000${m}`) ?? 0) !== 1);
      if (missing.length > 0) {
        return `run ${r.run} (${r.instance}) was reported ok by ${r.master} without a backup-table row for ${missing.slice(0, 5).join(', ')}`;
      }
    }
    return undefined;
  }

  /** What keeps the cluster from having settled, as an invariant message; undefined once settled. */
  private unsettled(): string | undefined {
    const live = this.current();
    for (const m of live) {
      const running = m.master.coordinator.runningProcedures();
      if (running.length > 0) {
        return `invariant runs-end-once broken: ${m.name} still runs ${running.map((p) => `${p.ref.name} (${p.ref.instance}, ${p.state})`).join(', ')} after the cluster settled`;
      }
    }
    for (const { name, worker } of this.cluster.workers()) {
      if (!this.world.isAlive(name)) continue;
      const sub = worker.member.subprocedure(ROLLLOG_NAME);
      if (sub && !sub.isComplete) {
        return `invariant members-leave-barrier broken: ${name} is still inside run ${sub.ref.instance} of ${sub.ref.name}`;
      }
    }
    return this.znodesLeft(live);
  }

  private znodesLeft(live: readonly { name: string; master: Master }[]): string | undefined {
    const tree = this.cluster.server.tree;
    const root = this.cluster.chroot;
    const procedures = `${root}/procedures`;
    if (tree.has(procedures)) {
      for (const signature of tree.children(procedures)) {
        for (const dir of ['acquired', 'reached', 'abort']) {
          const path = `${procedures}/${signature}/${dir}`;
          const left = tree.has(path) ? tree.children(path) : [];
          if (left.length > 0) return `invariant znodes-clean broken: ${path} still holds ${left.join(', ')}`;
        }
      }
    }
    for (const path of tree.paths()) {
      const owner = tree.stat(path)?.ephemeralOwner ?? NO_SESSION;
      if (owner !== NO_SESSION && !this.cluster.server.isLiveSession(owner)) {
        return `invariant znodes-clean broken: ephemeral ${path} outlives its session ${owner}`;
      }
    }
    if (live.length === 0) return undefined;
    const active = live.filter((m) => m.master.isActive);
    if (active.length !== 1)
      return `invariant znodes-clean broken: ${active.length} of ${live.length} live masters are active`;
    const published = `${root}/masters/active`;
    const owner = tree.stat(published)?.ephemeralOwner;
    const leader = active[0]!;
    if (!owner || !this.cluster.server.sessionsOf(leader.name).includes(owner)) {
      return `invariant znodes-clean broken: ${published} is not held by the active master ${leader.name}`;
    }
    return undefined;
  }

  /** The current incarnation of each live master. */
  private current(): { name: string; master: Master }[] {
    const out: { name: string; master: Master }[] = [];
    for (const [name, master] of this.cluster.latestMasters) if (this.world.isAlive(name)) out.push({ name, master });
    return out;
  }
}
