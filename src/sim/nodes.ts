// Cluster-size lists for sweeps: "10,20,40", "5..200/5" (from..to/step), or a mix of both.
import { MAX_CLUSTER_WORKERS } from '../cluster/index.js';

/** Bound on sizes in one sweep. */
export const MAX_SWEEP_SIZES = 10_000;
/** Bound on a single size: the cluster harness's own limit, so the CLI refuses what it would. */
export const MAX_SIM_WORKERS = MAX_CLUSTER_WORKERS;

export class NodeListError extends Error {
  override name = 'NodeListError';
}

/** Parses a size list into ascending, distinct worker counts. */
export function parseNodeList(text: string, maxNodes = MAX_SIM_WORKERS): number[] {
  const out = new Set<number>();
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new NodeListError('empty node list (try 10,20,40 or 5..200/5)');
  const num = (s: string, what: string): number => {
    const n = Number(s.replace(/_/g, ''));
    if (!/^\d[\d_]*$/.test(s) || !Number.isInteger(n) || n < 1 || n > maxNodes) {
      throw new NodeListError(`${what} '${s}' in '${text}' is not a whole number from 1 to ${maxNodes}`);
    }
    return n;
  };
  for (const p of parts) {
    const m = /^([\d_]+)\.\.([\d_]+)(?:\/([\d_]+))?$/.exec(p);
    if (m) {
      const from = num(m[1]!, 'range start');
      const to = num(m[2]!, 'range end');
      const step = m[3] === undefined ? 1 : num(m[3], 'range step');
      if (to < from) throw new NodeListError(`range '${p}' ends before it starts`);
      if ((to - from) / step + 1 + out.size > MAX_SWEEP_SIZES) {
        throw new NodeListError(`'${text}' has more than ${MAX_SWEEP_SIZES} sizes`);
      }
      for (let n = from; n <= to; n += step) out.add(n);
    } else {
      out.add(num(p, 'size'));
    }
    if (out.size > MAX_SWEEP_SIZES) throw new NodeListError(`'${text}' has more than ${MAX_SWEEP_SIZES} sizes`);
  }
  return [...out].sort((a, b) => a - b);
}
