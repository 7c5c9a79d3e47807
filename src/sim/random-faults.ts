// Random fault plans, drawn from the seed (--faults random): many seeds then cover many schedules,
// and a failing one is replayed from the plan printed with it.
//
// With ZooKeeper: master crashes (the survivor takes over; a crashed master may come back as a
// standby), worker crashes and restarts, session expiries, and partitions between a node and
// ZooKeeper or between workers and the masters. Never both masters down for good, so there is
// always someone to finish or abort what was started. With RPC coordination: message loss,
// duplication and reordering, partitions and crashes of workers (the master has no standby).
import { CLIENT_NODE, MASTER_DEFAULTS, defaultWorkerName } from '../cluster/index.js';
import { SimRandom } from '../substrate/sim/random.js';
import { emptyPlan, type FaultPlan } from './faults.js';
import { MASTER_NAMES, ZK_NODE } from './zookeeper.js';

export type Coordination = 'rpc' | 'zookeeper';

/** Faults happen within this many ms of the first rolllog. */
export const RANDOM_FAULT_WINDOW_MS = 2_000;
const MAX_RANDOM_FAULTS = 4;

export function randomFaultPlan(seed: number, workers: number, coordination: Coordination): FaultPlan {
  const rng = SimRandom.derive(seed, `faults:${coordination}:${workers}`);
  return coordination === 'zookeeper' ? zookeeperPlan(rng, workers) : rpcPlan(rng, workers);
}

function zookeeperPlan(rng: SimRandom, workers: number): FaultPlan {
  const plan = emptyPlan();
  const worker = (): string => defaultWorkerName(rng.int(workers));
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const at = (): number => rng.int(RANDOM_FAULT_WINDOW_MS);
  /** Per node, until when it is down (crashed and not yet restarted). */
  const downUntil = new Map<string, number>();
  const masterDownForGood = (): boolean => MASTER_NAMES.some((m) => downUntil.get(m) === Infinity);
  const items = 1 + rng.int(MAX_RANDOM_FAULTS);
  for (let i = 0; i < items; i++) {
    const kind = pick(['crash-master', 'crash-worker', 'expire', 'partition-zookeeper', 'partition-master'] as const);
    const t = at();
    switch (kind) {
      case 'crash-master':
      case 'crash-worker': {
        const node = kind === 'crash-master' ? pick(MASTER_NAMES) : worker();
        if ((downUntil.get(node) ?? -1) >= t) break;
        // A master may stay down only while the other one is up for good.
        const mustReturn = kind === 'crash-master' && masterDownForGood();
        plan.crashes.push({ node, atMs: t });
        if (mustReturn || rng.chance(0.6)) {
          const back = t + 100 + rng.int(2_000);
          plan.restarts.push({ node, atMs: back });
          downUntil.set(node, back);
        } else {
          downUntil.set(node, Infinity);
        }
        break;
      }
      case 'expire':
        plan.expiries.push({ node: pick([...MASTER_NAMES, worker(), CLIENT_NODE]), atMs: t });
        break;
      case 'partition-zookeeper':
        plan.partitions.push({
          fromMs: t,
          toMs: t + 50 + rng.int(3_000),
          side: [...new Set([pick([...MASTER_NAMES, worker(), worker()]), ...(rng.chance(0.3) ? [worker()] : [])])],
          other: [ZK_NODE],
        });
        break;
      case 'partition-master':
        plan.partitions.push({ fromMs: t, toMs: t + 50 + rng.int(3_000), side: [worker()], other: [...MASTER_NAMES] });
        break;
    }
  }
  return plan;
}

function rpcPlan(rng: SimRandom, workers: number): FaultPlan {
  const plan = emptyPlan();
  const worker = (): string => defaultWorkerName(rng.int(workers));
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  if (rng.chance(0.3)) plan.rates.push({ kind: 'drop', rate: pick([0.01, 0.03]), fromMs: 0, toMs: Infinity });
  if (rng.chance(0.2)) plan.rates.push({ kind: 'dup', rate: pick([0.01, 0.05]), fromMs: 0, toMs: Infinity });
  if (rng.chance(0.2)) plan.rates.push({ kind: 'reorder', rate: pick([0.05, 0.2]), fromMs: 0, toMs: Infinity });
  if (rng.chance(0.4)) {
    const fromMs = rng.int(RANDOM_FAULT_WINDOW_MS);
    const side = [...new Set([worker(), ...(rng.chance(0.3) ? [worker()] : [])])];
    plan.partitions.push({
      fromMs,
      toMs: fromMs + 50 + rng.int(3_000),
      side,
      ...(rng.chance(0.3) ? { other: [MASTER_DEFAULTS.name] } : {}),
    });
  }
  if (rng.chance(0.4)) {
    const node = worker();
    const atMs = rng.int(RANDOM_FAULT_WINDOW_MS);
    plan.crashes.push({ node, atMs });
    if (rng.chance(0.6)) plan.restarts.push({ node, atMs: atMs + 100 + rng.int(1_500) });
  }
  return plan;
}
