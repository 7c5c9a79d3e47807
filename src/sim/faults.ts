// Fault injection specs for simulated runs: a small text grammar (the --faults flag) parsed into a
// plan, and the plan applied to a SimWorld at virtual times.
//
//   SPEC      := ITEM ( ',' ITEM )*
//   ITEM      := RATE | PARTITION | CRASH | RESTART | EXPIRE
//   RATE      := ( 'drop' | 'dup' | 'reorder' ) '=' PROBABILITY [ '@' WINDOW ]
//   PARTITION := 'partition' '=' WINDOW ':' SIDE [ '/' SIDE ]
//   CRASH     := 'crash' '=' NODE '@' TIME
//   RESTART   := 'restart' '=' NODE '@' TIME
//   EXPIRE    := 'expire' '=' NODE '@' TIME        (--coordination zookeeper) the server expires NODE's session
//   WINDOW    := TIME '-' [ TIME ]                  an open end lasts until the run ends
//   SIDE      := NODE ( '|' NODE )*                 one side; without '/', the other side is every other node
//   TIME      := NUMBER [ 'ms' | 's' | 'm' ]        a bare number is milliseconds
//   PROBABILITY := a number in [0, 1]
//
// Times count from the start of the first rolllog of a run (the cluster is up by then).
// Examples:
//   drop=0.01                                  lose 1% of all frames (connections stay up)
//   dup=0.001,reorder=0.01                     duplicate 0.1%, reorder 1%
//   drop=0.2@100ms-300ms                       lose 20% of frames between 100 and 300 ms
//   partition=100ms-600ms:worker-1|worker-2    cut worker-1 and worker-2 off from everyone, then heal
//   partition=1s-:master/worker-3              cut master from worker-3 for good
//   crash=worker-3@50ms,restart=worker-3@2s    power-fail worker-3, bring it back with its synced disk
//   expire=master@1s                           ZooKeeper expires the master's session (a GC pause, say)
import type { SimWorld } from '../substrate/sim/index.js';
import type { MessageFaults } from '../substrate/sim/network.js';

export interface RateWindow {
  kind: 'drop' | 'dup' | 'reorder';
  rate: number;
  fromMs: number;
  /** Infinity: until the run ends. */
  toMs: number;
}

export interface PartitionFault {
  fromMs: number;
  toMs: number;
  side: string[];
  /** Undefined: every node not in side. */
  other?: string[];
}

export interface NodeFault {
  node: string;
  atMs: number;
}

export interface FaultPlan {
  rates: RateWindow[];
  partitions: PartitionFault[];
  crashes: NodeFault[];
  restarts: NodeFault[];
  /** ZooKeeper session expiries (only with the simulated ZooKeeper). */
  expiries: NodeFault[];
}

/** Bound on items in one spec: a plan is for people to read. */
export const MAX_FAULT_ITEMS = 1000;

export class FaultSpecError extends Error {
  override name = 'FaultSpecError';
}

export function emptyPlan(): FaultPlan {
  return { rates: [], partitions: [], crashes: [], restarts: [], expiries: [] };
}

export function isEmptyPlan(p: FaultPlan): boolean {
  return p.rates.length + p.partitions.length + p.crashes.length + p.restarts.length + p.expiries.length === 0;
}

function parseTime(text: string, item: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new FaultSpecError(`'${item}': '${text}' is not a time such as 50ms, 2s or 1m`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000;
}

function parseWindow(text: string, item: string): { fromMs: number; toMs: number } {
  const i = text.indexOf('-');
  if (i <= 0) throw new FaultSpecError(`'${item}': '${text}' is not a window such as 100ms-600ms or 1s-`);
  const fromMs = parseTime(text.slice(0, i), item);
  const rest = text.slice(i + 1);
  const toMs = rest === '' ? Infinity : parseTime(rest, item);
  if (toMs <= fromMs) throw new FaultSpecError(`'${item}': the window ends before it starts`);
  return { fromMs, toMs };
}

function parseSide(text: string, item: string): string[] {
  const nodes = text.split('|').map((s) => s.trim());
  for (const n of nodes) {
    if (!/^[A-Za-z0-9._-]+$/.test(n)) throw new FaultSpecError(`'${item}': '${n}' is not a node name`);
  }
  return nodes;
}

function parseProbability(text: string, item: string): number {
  const p = Number(text);
  if (text.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) {
    throw new FaultSpecError(`'${item}': '${text}' is not a probability between 0 and 1`);
  }
  return p;
}

/** Parses a --faults spec; throws FaultSpecError naming the bad item. */
export function parseFaultSpec(spec: string): FaultPlan {
  const plan = emptyPlan();
  const items = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length > MAX_FAULT_ITEMS) throw new FaultSpecError(`more than ${MAX_FAULT_ITEMS} fault items`);
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0)
      throw new FaultSpecError(
        `'${item}' is not KEY=VALUE (keys: drop, dup, reorder, partition, crash, restart, expire)`,
      );
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    switch (key) {
      case 'drop':
      case 'dup':
      case 'reorder': {
        const at = value.indexOf('@');
        const rate = parseProbability(at < 0 ? value : value.slice(0, at), item);
        const w = at < 0 ? { fromMs: 0, toMs: Infinity } : parseWindow(value.slice(at + 1), item);
        plan.rates.push({ kind: key, rate, ...w });
        break;
      }
      case 'partition': {
        const colon = value.indexOf(':');
        if (colon <= 0) throw new FaultSpecError(`'${item}': expected partition=FROM-TO:NODE|NODE[/NODE|NODE]`);
        const w = parseWindow(value.slice(0, colon), item);
        const sides = value.slice(colon + 1).split('/');
        if (sides.length > 2) throw new FaultSpecError(`'${item}': a partition has at most two sides`);
        const side = parseSide(sides[0]!, item);
        const other = sides.length === 2 ? parseSide(sides[1]!, item) : undefined;
        for (const n of other ?? []) {
          if (side.includes(n)) throw new FaultSpecError(`'${item}': ${n} is on both sides`);
        }
        plan.partitions.push({ ...w, side, ...(other ? { other } : {}) });
        break;
      }
      case 'crash':
      case 'restart':
      case 'expire': {
        const at = value.lastIndexOf('@');
        if (at <= 0) throw new FaultSpecError(`'${item}': expected ${key}=NODE@TIME`);
        const node = parseSide(value.slice(0, at), item);
        if (node.length !== 1) throw new FaultSpecError(`'${item}': one node per ${key}`);
        const f = { node: node[0]!, atMs: parseTime(value.slice(at + 1), item) };
        (key === 'crash' ? plan.crashes : key === 'restart' ? plan.restarts : plan.expiries).push(f);
        break;
      }
      default:
        throw new FaultSpecError(
          `unknown fault '${key}' in '${item}' (known: drop, dup, reorder, partition, crash, restart, expire)`,
        );
    }
  }
  checkCrashOrder(plan);
  return plan;
}

/** A restart needs an earlier crash of the same node, and a node cannot crash twice while down. */
function checkCrashOrder(plan: FaultPlan): void {
  const byNode = new Map<string, { atMs: number; up: boolean }[]>();
  for (const c of plan.crashes) byNode.set(c.node, [...(byNode.get(c.node) ?? []), { atMs: c.atMs, up: false }]);
  for (const r of plan.restarts) byNode.set(r.node, [...(byNode.get(r.node) ?? []), { atMs: r.atMs, up: true }]);
  for (const [node, steps] of byNode) {
    steps.sort((a, b) => a.atMs - b.atMs || Number(a.up) - Number(b.up));
    let up = true;
    for (const s of steps) {
      if (s.up === up) {
        throw new FaultSpecError(
          s.up
            ? `restart=${node}@${s.atMs}ms comes without an earlier crash`
            : `crash=${node}@${s.atMs}ms: ${node} is already down`,
        );
      }
      up = s.up;
    }
  }
}

/** The plan in spec syntax again (for reports and reproducing a random plan). */
export function formatFaultPlan(plan: FaultPlan): string {
  const t = (ms: number): string => (ms === Infinity ? '' : `${+ms.toFixed(3)}ms`);
  const parts: string[] = [];
  for (const r of plan.rates) {
    const whole = r.fromMs === 0 && r.toMs === Infinity;
    parts.push(`${r.kind}=${r.rate}${whole ? '' : `@${t(r.fromMs)}-${t(r.toMs)}`}`);
  }
  for (const p of plan.partitions) {
    parts.push(`partition=${t(p.fromMs)}-${t(p.toMs)}:${p.side.join('|')}${p.other ? `/${p.other.join('|')}` : ''}`);
  }
  for (const c of plan.crashes) parts.push(`crash=${c.node}@${t(c.atMs)}`);
  for (const r of plan.restarts) parts.push(`restart=${r.node}@${t(r.atMs)}`);
  for (const e of plan.expiries) parts.push(`expire=${e.node}@${t(e.atMs)}`);
  return parts.join(',');
}

/** Every node a plan names, to check against the cluster before the run starts. */
export function nodesNamed(plan: FaultPlan): string[] {
  const s = new Set<string>();
  for (const p of plan.partitions) for (const n of [...p.side, ...(p.other ?? [])]) s.add(n);
  for (const c of [...plan.crashes, ...plan.restarts, ...plan.expiries]) s.add(c.node);
  return [...s];
}

export interface FaultHooks {
  /** After world.crash: the harness forgets the node's objects. */
  crashed?(node: string): void;
  /** After world.restart: the harness builds a fresh node on the new substrate. */
  restarted?(node: string): void;
  /** Expires the node's ZooKeeper sessions; without it, a plan with expire= is refused. */
  expire?(node: string): void;
}

/**
 * Schedules the plan on the world with time 0 at `originMs` (virtual). Rates combine as the
 * largest rate active at a time, per kind.
 */
export function applyFaultPlan(world: SimWorld, plan: FaultPlan, originMs: number, hooks: FaultHooks = {}): void {
  const known = new Set(world.nodeNames());
  for (const n of nodesNamed(plan)) {
    if (!known.has(n)) throw new FaultSpecError(`the fault spec names ${n}, which is not a node of this cluster`);
  }
  const expire = hooks.expire;
  if (plan.expiries.length > 0 && !expire) {
    throw new FaultSpecError('expire= expires ZooKeeper sessions: it needs --coordination zookeeper');
  }
  for (const e of plan.expiries) world.at(originMs + e.atMs, `expire ${e.node}`, () => expire!(e.node));
  const recompute = (): void => {
    const now = world.nowMs - originMs;
    const current: Pick<MessageFaults, 'dropRate' | 'dupRate' | 'reorderRate'> = {
      dropRate: 0,
      dupRate: 0,
      reorderRate: 0,
    };
    for (const r of plan.rates) {
      if (r.fromMs <= now && now < r.toMs) {
        const k = r.kind === 'drop' ? 'dropRate' : r.kind === 'dup' ? 'dupRate' : 'reorderRate';
        current[k] = Math.max(current[k], r.rate);
      }
    }
    world.fabric.setFaults(current);
  };
  const boundaries = new Set<number>();
  for (const r of plan.rates) {
    boundaries.add(r.fromMs);
    if (r.toMs !== Infinity) boundaries.add(r.toMs);
  }
  for (const b of [...boundaries].sort((x, y) => x - y)) world.at(originMs + b, `faults@${b}`, recompute);
  for (const p of plan.partitions) {
    let id = -1;
    world.at(originMs + p.fromMs, `partition ${p.side.join('|')}`, () => {
      id = world.partition(p.side, p.other);
    });
    if (p.toMs !== Infinity) world.at(originMs + p.toMs, `heal ${p.side.join('|')}`, () => world.heal(id));
  }
  const steps = [
    ...plan.crashes.map((c) => ({ ...c, up: false })),
    ...plan.restarts.map((r) => ({ ...r, up: true })),
  ].sort((a, b) => a.atMs - b.atMs || Number(a.up) - Number(b.up));
  for (const s of steps) {
    world.at(originMs + s.atMs, `${s.up ? 'restart' : 'crash'} ${s.node}`, () => {
      if (s.up) {
        world.restart(s.node);
        hooks.restarted?.(s.node);
      } else {
        world.crash(s.node);
        hooks.crashed?.(s.node);
      }
    });
  }
}
