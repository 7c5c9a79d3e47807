// A node's admin `/metrics` in the Prometheus text format (prom-client), from one snapshot of its
// thread registry per scrape: its pools (size, busy and idle handlers, queued, rejected and
// completed calls) and its logical threads by state. The pool series share their names and labels
// with `rollcall watch`'s (rollcall_pool_size, rollcall_pool_threads), so one dashboard reads both.
// prom-client is loaded on the first scrape: every `rollcall` command imports this layer, few scrape.
import type { NodeDump } from '../threads/index.js';

type PromClient = typeof import('prom-client');
let promClient: Promise<PromClient> | undefined;

/** The node's metrics as Prometheus text, and its content type. */
export async function nodeMetricsText(dump: NodeDump): Promise<{ contentType: string; body: string }> {
  const { Counter, Gauge, Registry } = await (promClient ??= import('prom-client'));
  const registry = new Registry();
  const registers = [registry];
  const node = dump.node;
  new Gauge({
    name: 'rollcall_node_info',
    help: 'Always 1: the node, its role and version',
    labelNames: ['node', 'role', 'version'],
    registers,
  }).set({ node, role: dump.role, version: dump.version }, 1);
  const size = new Gauge({
    name: 'rollcall_pool_size',
    help: 'Handlers of the pool',
    labelNames: ['node', 'pool'],
    registers,
  });
  const threads = new Gauge({
    name: 'rollcall_pool_threads',
    help: 'Handlers of the pool by state: busy (serving a call) or idle',
    labelNames: ['node', 'pool', 'state'],
    registers,
  });
  const queued = new Gauge({
    name: 'rollcall_pool_queued_calls',
    help: "Calls waiting in the pool's queues",
    labelNames: ['node', 'pool'],
    registers,
  });
  const rejected = new Counter({
    name: 'rollcall_pool_rejected_calls_total',
    help: 'Calls refused because the queue was full (CallQueueTooBig)',
    labelNames: ['node', 'pool'],
    registers,
  });
  const completed = new Counter({
    name: 'rollcall_pool_completed_calls_total',
    help: 'Calls the pool has finished serving',
    labelNames: ['node', 'pool'],
    registers,
  });
  for (const p of dump.pools) {
    const labels = { node, pool: p.name };
    size.set(labels, p.size);
    threads.set({ ...labels, state: 'busy' }, p.busy);
    threads.set({ ...labels, state: 'idle' }, p.idle);
    queued.set(labels, p.queuedTotal);
    rejected.inc(labels, p.rejected);
    completed.inc(labels, p.completed);
  }
  const byState = new Map<string, number>();
  for (const t of dump.threads) byState.set(t.state, (byState.get(t.state) ?? 0) + 1);
  const nodeThreads = new Gauge({
    name: 'rollcall_node_threads',
    help: "The node's logical threads by their current state",
    labelNames: ['node', 'state'],
    registers,
  });
  for (const state of ['RUNNABLE', 'WAITING', 'TIMED_WAITING', 'BLOCKED', 'IDLE'])
    nodeThreads.set({ node, state: state.toLowerCase() }, byState.get(state) ?? 0);
  return { contentType: registry.contentType, body: await registry.metrics() };
}
