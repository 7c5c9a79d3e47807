// The wait-for graph and its liveness fixpoint — rollcall's one deadlock computation, shared by
// `rollcall analyze` (over parsed dumps, one graph per round) and the runtime's online detector
// (over live node dumps): the graph, its builder from wait specs, rollcall's explicit call links,
// liveness, cycles and how a cycle is reported, and the latent-deadlock predictor's class graph
// (latent.ts, shared by the runtime's predictor and `analyze --predict`). Depends on nothing.
//
//   const g = new WaitGraph();
//   const a = g.addVertex({ kind: 'thread', node: 'master', label: 'handler=1', status: 'waiting' });
//   const p = g.addVertex({ kind: 'pool', node: 'master', label: 'default', status: 'waiting', mode: 'any' });
//   g.addEdge(a, p, { kind: 'rpc', label: 'rpc check → master/default', evidence: ['at Foo.call'] });
//   g.addEdge(p, a, { kind: 'handler', label: 'handler 1', evidence: ['handler of default'] });
//   const { liveness, cycles } = analyzeGraph(g);   // cycles[0].members = [a, p]
import type { EdgeInfo, VertexInfo, WaitGraph } from './graph.js';
import { computeLiveness, type Liveness, type LivenessOptions } from './liveness.js';
import { findCycles, type Cycle, type CycleOptions } from './cycles.js';

export * from './graph.js';
export * from './liveness.js';
export * from './cycles.js';
export * from './build.js';
export * from './describe.js';
export * from './rollcall.js';
export * from './latent.js';

export interface GraphAnalysis {
  liveness: Liveness;
  cycles: Cycle[];
}

/** Liveness (lenient unless options.strict) and the cycles among non-live vertices, in one call. */
export function analyzeGraph(
  g: WaitGraph<VertexInfo>,
  options: LivenessOptions & Omit<CycleOptions, 'include'> = {},
): GraphAnalysis {
  const liveness = computeLiveness(g, options);
  const cycles = liveness.nonLiveCount === 0 ? [] : findCycles(g, liveness, options);
  return { liveness, cycles };
}

/** One hop of a cycle, ready to print: `from` waits for `to` because of `edge`. */
export interface CycleStep<V extends VertexInfo = VertexInfo> {
  from: V;
  to: V;
  edge: EdgeInfo;
  fromId: number;
  toId: number;
}

export function cycleSteps<V extends VertexInfo>(g: WaitGraph<V>, cycle: Cycle): CycleStep<V>[] {
  return cycle.edges.map((e) => {
    const fromId = g.edgeSource(e);
    const toId = g.edgeTarget(e);
    return { from: g.vertex(fromId), to: g.vertex(toId), edge: g.edge(e), fromId, toId };
  });
}
