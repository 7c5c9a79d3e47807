// Thread → pool. Pools are what exhaust: HBase RPC handler pools, Hadoop IPC handlers, JDK
// executors (`pool-N-thread-M`), rule-pack pools, rollcall's own pools. A thread whose stack runs
// an executor's worker loop (ThreadPoolExecutor$Worker.run, ForkJoinWorkerThread.run) is a pool
// handler whatever its name: its pool is named by the name without its trailing number. As a last
// resort, threads whose names differ only by a trailing number (`qtp123-45`) form a generic pool
// when at least two of them exist on a node (generic pools never decide a verdict).
import type { RulePack } from './rules.js';
import type { SiteFacts } from './services.js';

export type PoolFamily = 'hbase' | 'hadoop' | 'executor' | 'rule' | 'rollcall' | 'generic';

export interface PoolMembership {
  pool: string;
  family: PoolFamily;
  /** Handler index within the pool, when the name says. */
  handler?: number;
  /** Call queue the handler serves (HBase `queue=Q`): a queued call waits for handlers of its queue only. */
  queue?: number;
  port?: number;
  /** A rule's capacity for the pool. */
  size?: number;
  /** A rule says the pool makes threads on demand. */
  unbounded?: boolean;
}

/** Bound on memoized names (thread names repeat across samples and nodes). */
export const MAX_MEMO_NAMES = 500_000;

// RpcServer.<pool>.<executor>.<queue>[.read|.write|.scan].handler=N,queue=Q,port=P
const HBASE2 = /^(RpcServer\.[^,]+?)(?:\.(read|write|scan))?\.handler=(\d+),queue=(\d+),port=(\d+)$/;
// Older: B.defaultRpcServer.handler=N,queue=Q,port=P / PriorityRpcServer.handler=… / Replication…
const HBASE1 = /^((?:B\.)?[\w.]*RpcServer)\.handler=(\d+),queue=(\d+),port=(\d+)$/;
// Hadoop: IPC Server handler N on [default] P (also "on port P")
const HADOOP = /^IPC Server handler (\d+) on (?:default )?(?:port )?(\d+)$/;
const EXECUTOR = /^pool-(\d+)-thread-(\d+)$/;
const GENERIC = /^(.*?[^\d\s#_-])[\s#_-]*(\d+)$/;
const PAREN_COUNTER = /\(\d+\)/g;

export class PoolNamer {
  private readonly memo = new Map<string, PoolMembership | null>();

  constructor(private readonly packs: readonly RulePack[]) {}

  /**
   * `explicit` is a pool the dump itself names (rollcall's `pool=`); it wins over names. `worker`
   * says the thread runs an executor's worker loop: then it is a pool handler even when its name
   * alone would not say so.
   */
  of(name: string, explicit?: string, worker?: SiteFacts['worker']): PoolMembership | undefined {
    const m = this.named(name, explicit);
    if (worker === undefined || (m !== undefined && m.family !== 'generic')) return m;
    if (m !== undefined) return { ...m, family: 'executor' };
    // A worker whose name has no number: one pool per name (a single-thread executor).
    return { pool: name, family: 'executor' };
  }

  private named(name: string, explicit?: string): PoolMembership | undefined {
    if (explicit !== undefined && explicit.length > 0) {
      const fromName = this.byName(name);
      return {
        pool: explicit,
        family: 'rollcall',
        ...(fromName?.handler !== undefined ? { handler: fromName.handler } : {}),
        ...(fromName?.queue !== undefined ? { queue: fromName.queue } : {}),
        ...(fromName?.port !== undefined ? { port: fromName.port } : {}),
      };
    }
    return this.byName(name);
  }

  private byName(name: string): PoolMembership | undefined {
    const found = this.memo.get(name);
    if (found !== undefined) return found ?? undefined;
    const m = this.compute(name);
    if (this.memo.size < MAX_MEMO_NAMES) this.memo.set(name, m ?? null);
    return m;
  }

  private compute(name: string): PoolMembership | undefined {
    for (const pack of this.packs) {
      for (const rule of pack.pools) {
        const m = rule.threadName.exec(name);
        if (m === null) continue;
        const pool = rule.pool.replace(/\$(\d+)|\$<(\w+)>/g, (_, n: string | undefined, g: string | undefined) =>
          n !== undefined ? (m[Number(n)] ?? '') : (m.groups?.[g!] ?? ''),
        );
        const handler = numberGroup(m.groups?.['handler']);
        const queue = numberGroup(m.groups?.['queue']);
        const port = numberGroup(m.groups?.['port']);
        return {
          pool,
          family: 'rule',
          ...(handler !== undefined ? { handler } : {}),
          ...(queue !== undefined ? { queue } : {}),
          ...(port !== undefined ? { port } : {}),
          ...(rule.size !== undefined ? { size: rule.size } : {}),
          ...(rule.unbounded === true ? { unbounded: true } : {}),
        };
      }
    }
    let m = HBASE2.exec(name);
    if (m !== null) {
      // read/write/scan handlers are sub-queues of one executor: one pool, queue indexes kept apart.
      const sub = m[2] === undefined ? 0 : m[2] === 'read' ? 1 : m[2] === 'write' ? 2 : 3;
      const queue = Number(m[4]);
      return {
        pool: `${m[1]}:${m[5]}`,
        family: 'hbase',
        handler: Number(m[3]),
        queue: sub === 0 ? queue : sub * 100_000 + queue,
        port: Number(m[5]),
      };
    }
    m = HBASE1.exec(name);
    if (m !== null) {
      return {
        pool: `${m[1]}:${m[4]}`,
        family: 'hbase',
        handler: Number(m[2]),
        queue: Number(m[3]),
        port: Number(m[4]),
      };
    }
    m = HADOOP.exec(name);
    if (m !== null)
      return { pool: `IPC Server handler:${m[2]}`, family: 'hadoop', handler: Number(m[1]), port: Number(m[2]) };
    m = EXECUTOR.exec(name);
    if (m !== null) return { pool: `pool-${m[1]}`, family: 'executor', handler: Number(m[2]) };
    // A counter in parentheses is a per-thread number too: `RMI TCP Connection(21)-127.0.1.1`.
    m = GENERIC.exec(name.replace(PAREN_COUNTER, '(N)'));
    if (m !== null && m[1]!.length >= 2) return { pool: m[1]!, family: 'generic', handler: Number(m[2]) };
    return undefined;
  }
}

function numberGroup(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isInteger(n) ? n : undefined;
}
