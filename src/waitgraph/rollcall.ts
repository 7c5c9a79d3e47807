// rollcall's own dumps need no guessing: a thread waiting on an RPC names the target node and the
// call id, and the handler serving it names its caller and the same call id; a call not yet taken
// sits in the target pool's queue listing with its queue index; a barrier wait names the members it
// still misses. This module turns those facts into wait-for targets. It works on small "views" so
// `rollcall analyze` (parsed dumps) and the online detector (live NodeDumps) share it. The wait and
// serving records are defined here, so the wait-for graph layer depends on nothing; rollcall's
// logical threads (src/threads) record them.
import type { EdgeInfo, WaitMode } from './graph.js';
import type { WaitTarget } from './build.js';

/** A reference to a thread on some node: the end of a cross-node wait-for edge. */
export interface ThreadRef {
  node: string;
  threadId: number;
}

/** What a rollcall thread waits on (src/threads records it as its WaitDescriptor). */
export type ExplicitWait =
  /** Blocked in a synchronous RPC: the serving handler on `target` links back through callId. */
  | { kind: 'rpc'; target: string; targetAddr?: string; method: string; callId: number; deadlineMs: number }
  /** A coordinator or member waiting at a barrier for the members still missing. */
  | {
      kind: 'barrier';
      procedure: string;
      instance: string;
      phase: 'acquired' | 'reached' | 'completed';
      missing: string[];
      deadlineMs?: number;
    }
  /** Waiting for a slot or an item in a bounded queue owned by `owner` (a pool or a node). */
  | { kind: 'queue'; queue: string; owner?: string }
  | { kind: 'lock'; lock: string; owner?: ThreadRef }
  /** A timed sleep: not a wait on anything else. */
  | { kind: 'timer'; untilMs: number; reason: string }
  /** Waiting for a local asynchronous result (disk I/O, a child task). */
  | { kind: 'io'; what: string };

/** The call a rollcall handler serves (src/threads records it as Serving). */
export interface ExplicitServing {
  callerNode: string;
  callerThreadId: number;
  callId: number;
  method: string;
  sinceMs: number;
}

export interface RcThreadView {
  node: string;
  /** The caller's own handle for the thread (an index); returned in targets. */
  ref: number;
  id: number;
  name: string;
  pool?: string;
  /** Queue index the handler serves (HBase `queue=Q` in the name). */
  queue?: number;
  idle: boolean;
  wait?: ExplicitWait & { sinceMs?: number };
  serving?: ExplicitServing;
  /** Frames, innermost first (only `rollcall.procedure.` ones are looked at). */
  frames: readonly string[];
  /** The dump's monotonic clock, to print waits as the node did. */
  nowMs: number;
}

export interface RcQueuedCall {
  callId: number;
  method: string;
  callerNode: string;
  callerThreadId: number;
  queue: number;
}

export interface RcPoolView {
  node: string;
  name: string;
  queued: readonly RcQueuedCall[];
}

export interface RcWait {
  mode: WaitMode;
  targets: WaitTarget[];
  /** True for waits that are no wait at all (a timer): the thread is idle. */
  sleeping?: boolean;
}

const PROCEDURE_FRAME = /^rollcall\.procedure\./;
const MEMBER_POOL = /subproc|coordinator/i;
/** Most member threads kept per barrier group (a member runs a handful). */
const MAX_GROUP_THREADS = 64;

const key3 = (a: string, b: string, c: number) => `${a}\u0000${b}\u0000${c}`;

/** Indexes one round of rollcall dumps; then `waitOf` resolves any thread's wait. */
export class RollcallLinker {
  /** target node, caller node, call id → serving thread. */
  private readonly serving = new Map<string, RcThreadView>();
  /** target node, caller node, call id → queued call and its pool. */
  private readonly queued = new Map<string, { pool: string; call: RcQueuedCall }>();
  private readonly byNode = new Map<string, RcThreadView[]>();
  private readonly byNodeId = new Map<string, RcThreadView>();
  private readonly nodes: ReadonlySet<string>;

  /**
   * `canon` maps the node names dumps use among themselves (a wait's target, a caller) to the
   * names the caller gave the nodes (a file may be analyzed under another name). `describe`
   * prints a wait as the node's dump did (src/threads formatWait), for evidence.
   */
  constructor(
    threads: Iterable<RcThreadView>,
    pools: Iterable<RcPoolView>,
    nodes: Iterable<string>,
    private readonly describe: (wait: ExplicitWait & { sinceMs?: number }, nowMs: number) => string,
    private readonly canon: (node: string) => string = (n) => n,
  ) {
    this.nodes = new Set(nodes);
    for (const t of threads) {
      let list = this.byNode.get(t.node);
      if (list === undefined) this.byNode.set(t.node, (list = []));
      list.push(t);
      this.byNodeId.set(`${t.node}\u0000${t.id}`, t);
      const s = t.serving;
      if (s !== undefined) this.serving.set(key3(t.node, this.canon(s.callerNode), s.callId), t);
    }
    for (const p of pools) {
      for (const q of p.queued)
        this.queued.set(key3(p.node, this.canon(q.callerNode), q.callId), { pool: p.name, call: q });
    }
  }

  waitOf(t: RcThreadView): RcWait | undefined {
    const w = t.wait;
    if (w === undefined || t.idle) return undefined;
    const line = `"${t.name}" - rollcall: ${this.describe(w, t.nowMs)}`;
    switch (w.kind) {
      case 'timer':
        return { mode: 'any', targets: [], sleeping: true };
      case 'io':
        return { mode: 'any', targets: [external(`${t.node}: ${w.what}`, 'other', `io ${w.what}`, [line])] };
      case 'lock': {
        const owner =
          w.owner === undefined ? undefined : this.byNodeId.get(`${this.canon(w.owner.node)}\u0000${w.owner.threadId}`);
        if (owner === undefined)
          return { mode: 'any', targets: [external(`lock ${w.lock}`, 'lock', `lock ${w.lock}`, [line])] };
        return {
          mode: 'any',
          targets: [
            {
              to: 'thread',
              ref: owner.ref,
              edge: { kind: 'lock', label: `lock ${w.lock} held by "${owner.name}"`, evidence: [line] },
            },
          ],
        };
      }
      case 'queue':
        return {
          mode: 'any',
          targets: [
            external(`queue ${w.queue}${w.owner ? ` of ${w.owner}` : ''}`, 'other', `queue ${w.queue}`, [line]),
          ],
        };
      case 'rpc':
        return { mode: 'any', targets: [this.rpcTarget(t, w, line)] };
      case 'barrier':
        return this.barrierWait(t, w, line);
    }
  }

  private rpcTarget(t: RcThreadView, w: Extract<ExplicitWait, { kind: 'rpc' }>, line: string): WaitTarget {
    const target = this.canon(w.target);
    const label = `rpc ${w.method} → ${target}`;
    const call = serviceMethod(w.method);
    const handler = this.serving.get(key3(target, t.node, w.callId));
    if (handler !== undefined) {
      const s = handler.serving!;
      return {
        to: 'thread',
        ref: handler.ref,
        edge: {
          kind: 'rpc',
          ...call,
          label: `${label} (call ${w.callId}, served by ${handler.name})`,
          evidence: [
            line,
            `"${handler.name}" on ${handler.node} - rollcall: serving call=${s.callId} method=${s.method} caller=${s.callerNode} callerThread=${s.callerThreadId}`,
          ],
        },
      };
    }
    const q = this.queued.get(key3(target, t.node, w.callId));
    if (q !== undefined) {
      return {
        to: 'pool',
        node: target,
        pool: q.pool,
        queue: q.call.queue,
        edge: {
          kind: 'rpc',
          ...call,
          label: `${label} (call ${w.callId} queued in ${q.pool} queue ${q.call.queue})`,
          evidence: [
            line,
            `${target} pool=${q.pool}: queued call=${q.call.callId} method=${q.call.method} caller=${q.call.callerNode} callerThread=${q.call.callerThreadId} queue=${q.call.queue}`,
          ],
        },
      };
    }
    // Neither served nor queued: on the wire, or the target is not in the dumps. Not provable.
    const where = this.nodes.has(target) ? `${target} (call ${w.callId} in flight)` : `${target} (not in the dumps)`;
    return external(where, 'rpc', label, [line]);
  }

  private barrierWait(t: RcThreadView, w: Extract<ExplicitWait, { kind: 'barrier' }>, line: string): RcWait {
    const targets: WaitTarget[] = [];
    for (const missing of w.missing) {
      const member = this.canon(missing);
      const label = `${member} in ${w.procedure} (${w.phase})`;
      const edge: EdgeInfo = {
        kind: 'barrier',
        label: `barrier ${w.procedure} waits for ${member} (${w.phase})`,
        evidence: [line],
      };
      const threads = this.byNode.get(member);
      if (threads === undefined) {
        targets.push(external(`${member} (not in the dumps)`, 'barrier', edge.label, [line]));
        continue;
      }
      const refs: number[] = [];
      for (const m of threads) {
        if (m.idle || m === t || refs.length >= MAX_GROUP_THREADS) continue;
        const sameBarrier =
          m.wait?.kind === 'barrier' && m.wait.procedure === w.procedure && m.wait.instance === w.instance;
        const inProcedure =
          m.frames.some((f) => PROCEDURE_FRAME.test(f)) || (m.pool !== undefined && MEMBER_POOL.test(m.pool));
        if (sameBarrier || inProcedure) refs.push(m.ref);
      }
      // The member is done when every thread it runs for the procedure is.
      targets.push({
        to: 'group',
        key: `barrier\u0000${member}\u0000${w.procedure}\u0000${w.instance}`,
        node: member,
        label,
        mode: 'all',
        refs,
        edge,
      });
    }
    // A barrier completes when every missing member does.
    return { mode: 'all', targets };
  }
}

/** rollcall methods are `Service.method`. */
function serviceMethod(name: string): { service?: string; method: string } {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? { method: name } : { service: name.slice(0, dot), method: name.slice(dot + 1) };
}

function external(label: string, kind: EdgeInfo['kind'], edgeLabel: string, evidence: string[]): WaitTarget {
  return { to: 'external', label, edge: { kind, label: edgeLabel, evidence } };
}

/**
 * The `rollcall simulate` command that shows a predicted starvation of a rollcall master's default
 * pool happen: the simulator runs the same master and worker code, so the legacy rolllog's cliff
 * around the predicted cluster size is there to see. Undefined for anything the simulator does not
 * model.
 */
export function simulateCommand(p: {
  role: string;
  pool: string;
  size: number;
  firesAtNodes?: number;
}): string | undefined {
  if (p.role !== 'master' || !p.pool.endsWith('/default') || p.firesAtNodes === undefined) return undefined;
  const n = p.firesAtNodes;
  return `rollcall simulate --nodes ${Math.max(1, n - 2)}..${n + 2} --mode legacy --handlers ${p.size}`;
}
