// How a latent-deadlock prediction reads, the same in the terminal and the HTML report: when it
// fires (requests or nodes), the path around the cycle, and what was seen of it.
import type { Prediction } from '../diagnose/result.js';

/** `at 8 concurrent Orders/place`, or `from 29 worker nodes (29 concurrent …; 1 held by …)`. */
export function firesText(p: Prediction): string {
  const firing = p.requests.filter((r) => !r.held);
  const held = p.requests.filter((r) => r.held && r.concurrency > 0);
  const what = firing.map((r) => r.serving).join(' + ') || 'requests';
  const heldText =
    held.length > 0
      ? `; ${held.map((r) => `${r.concurrency} handler${r.concurrency === 1 ? '' : 's'} held by ${r.serving}`).join(', ')}`
      : '';
  if (p.firesAtNodes === undefined) return `at ${p.firesAtConcurrency} concurrent ${what}${heldText}`;
  const role = firing.find((r) => r.callerRole !== undefined)?.callerRole ?? 'calling';
  const perNode = firing.reduce((n, r) => n + (r.perNode ?? 0), 0);
  return `from ${p.firesAtNodes} ${role} nodes (${p.firesAtConcurrency} concurrent ${what}, ${perNode} per node${heldText})`;
}

/** `orders/pool-1 serving Orders/place —[rpc Inventory/reserve]→ inventory/… serving … —[…]→ orders/pool-1`. */
export function pathText(p: Prediction): string {
  const parts: string[] = [];
  for (const s of p.path) {
    parts.push(`${s.pool ?? s.thread ?? s.role}${s.serving !== undefined ? ` serving ${s.serving}` : ''}`);
    parts.push(`—[${s.waitsOn}]→`);
  }
  parts.push(p.pool);
  return parts.join(' ');
}

/** `4 threads in 3 samples: orders/pool-1-thread-2, …`. */
export function seenText(p: Prediction, maxThreads = 3): string {
  const threads = [...new Set(p.evidence.flatMap((e) => e.threads))];
  const samples = new Set(p.evidence.flatMap((e) => e.samples));
  const list = threads.slice(0, maxThreads).join(', ') + (threads.length > maxThreads ? ', …' : '');
  return `${threads.length} thread${threads.length === 1 ? '' : 's'}${threads.length >= 16 ? '+' : ''} in ${samples.size} sample${samples.size === 1 ? '' : 's'}: ${list}`;
}
