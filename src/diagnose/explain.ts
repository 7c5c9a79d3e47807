// `rollcall analyze --explain NODE/THREAD`: the evidence behind a thread's class — what was seen
// across the samples, what changed (or did not), what it waits for and what that waits for, and why
// that makes it stuck, waiting, idle or progressing.
import { siteName } from './services.js';
import type { AnalysisState, Track } from './model.js';
import type { DeadlockOut, ThreadClass, ThreadExplanation } from './result.js';
import type { Prover } from './verdict.js';

const MEANING: Record<ThreadClass, string> = {
  blocked: 'stuck: parked in every sample on something that should already have happened',
  'running-stuck': 'stuck: RUNNABLE in the same place in every sample, with no CPU progress where known',
  waiting:
    'waiting, not stuck: parked in every sample, but nothing links its wait to a lock owner, a call, a barrier or a full pool',
  progressing: 'progressing: it moved between samples',
  idle: 'idle: waiting for work in every sample',
};
const LOCK_VERB: Partial<Record<string, string>> = {
  parking: 'parking to wait for',
  'waiting-on': 'waiting on',
  'waiting-to-lock': 'waiting to lock',
  'waiting-to-re-lock': 'waiting to re-lock',
  'blocked-on': 'blocked on',
};
/** Threads of the same name explained per request (names are not unique). */
const MAX_PER_REQUEST = 4;
const MAX_TARGETS_SHOWN = 8;
const MAX_EVIDENCE_SHOWN = 6;

/** Splits `NODE/THREAD` at the first '/' that ends a known node name (thread names may hold '/'). */
export function findThreads(state: AnalysisState, spec: string): number[] | string {
  for (let at = spec.indexOf('/'); at > 0; at = spec.indexOf('/', at + 1)) {
    const node = state.nodeByName.get(state.canon(spec.slice(0, at)));
    if (node === undefined) continue;
    const name = spec.slice(at + 1);
    const found = [...node.ids.values()].filter((ti) => state.tracks[ti]!.name === name);
    if (found.length > 0) return found.slice(0, MAX_PER_REQUEST);
    return `no thread "${name}" on ${node.name} (${node.ids.size} threads there)`;
  }
  const nodes = state.nodes.map((n) => n.name);
  return `'${spec}' is not NODE/THREAD for a node in the analysis (nodes: ${nodes.slice(0, 8).join(', ')}${nodes.length > 8 ? ', …' : ''})`;
}

export function explainTrack(
  state: AnalysisState,
  prover: Prover,
  ref: number,
  deadlocks: readonly DeadlockOut[],
): ThreadExplanation {
  const tr = state.tracks[ref]!;
  const node = state.nodes[tr.node]!;
  const rounds = node.rounds.length;
  const f = tr.lastFacts;
  const lines: string[] = [MEANING[tr.cls]];
  lines.push(
    `seen in ${tr.present} of ${rounds} sample${rounds === 1 ? '' : 's'} of ${node.name}; last state ${tr.lastState}`,
  );
  lines.push(`innermost frame that says why: ${f.top}`);
  const lock = tr.lastLocks.find((l) => l.kind !== 'locked' && l.kind !== 'eliminated');
  if (lock !== undefined)
    lines.push(
      `- ${LOCK_VERB[lock.kind] ?? lock.kind} <${lock.address}>${lock.className ? ` (a ${lock.className})` : ''}`,
    );
  if (tr.changeReason !== undefined) lines.push(`changed: ${tr.changeReason}`);
  else if (tr.present > 1) lines.push('same state, stack and wait object in every sample it was seen in');
  // prevCpu: the CPU time in the last sample.
  if (tr.firstCpu !== undefined && tr.prevCpu !== undefined) {
    const rose = tr.prevCpu !== tr.firstCpu;
    lines.push(`cpu ${tr.firstCpu} ms → ${tr.prevCpu} ms${rose ? ' (it ran between samples)' : ' (no CPU progress)'}`);
  } else if (tr.cls === 'running-stuck') lines.push('cpu: not in the dumps');
  if (f.idleBecause !== undefined && tr.idleRounds > 0) lines.push(`idle: ${f.idleBecause}`);
  if (f.nature === 'sleeping') lines.push('asleep (Thread.sleep): it waits on nothing and wakes by itself');
  const pool = tr.membership === undefined ? undefined : node.pools.get(tr.membership.pool);
  // A "generic" pool of one thread is just a name ending in a number.
  if (tr.membership !== undefined && pool !== undefined && (pool.family !== 'generic' || pool.tracks.length > 1)) {
    const size = pool.tracks.length;
    lines.push(
      `handler of pool ${tr.membership.pool} on ${node.name} (${tr.membership.family}, ${size} thread${size === 1 ? '' : 's'} seen${pool.unbounded ? ', makes threads on demand' : ''})`,
    );
  }
  if (f.serves !== undefined)
    lines.push(`serving ${siteName(f.serves)} (${f.serves.framework}) at ${f.serves.evidence[0]}`);
  if (f.call !== undefined) lines.push(`calling ${siteName(f.call)} (${f.call.framework}) at ${f.call.evidence[0]}`);
  lines.push(...waitLines(state, prover, ref, tr));
  if (tr.present > 0 && tr.cls !== 'idle' && tr.cls !== 'progressing') {
    lines.push(
      tr.nonLive >= rounds
        ? `wait-for graph: non-live in all ${rounds} samples (nothing it waits for can finish)`
        : tr.nonLive > 0
          ? `wait-for graph: non-live in ${tr.nonLive} of ${rounds} samples`
          : 'wait-for graph: live in every sample (what it waits for can still finish)',
    );
    if (tr.cls === 'blocked' && tr.strictNonLive >= rounds && tr.nonLive < rounds)
      lines.push('it waits on something outside the dumps for the whole span: counts toward a "stuck" verdict');
  }
  const name = `${node.name}/${tr.name}`;
  deadlocks.forEach((d, i) => {
    if (d.members.includes(name)) lines.push(`member of deadlock ${i + 1} (${d.kind} across ${d.nodes.join(', ')})`);
    else if (d.blockedBehind.includes(name)) lines.push(`blocked behind deadlock ${i + 1} (${d.kind})`);
  });
  return { node: node.name, thread: tr.name, class: tr.cls, evidence: lines };
}

/** What the thread waits for in its last sample, with the evidence of each edge. */
function waitLines(state: AnalysisState, prover: Prover, ref: number, tr: Track): string[] {
  if (tr.lastRound < 0) return [];
  const spec = prover.specsOf(tr.lastRound).find((s) => s.from === ref);
  if (spec === undefined) {
    return tr.cls === 'waiting' || tr.cls === 'blocked'
      ? ['waits for: nothing the dumps link it to (no lock owner, no call to a service, no barrier, no rule)']
      : [];
  }
  const out = [`waits for ${spec.mode === 'all' ? 'all' : 'any'} of (last sample):`];
  // Targets of one wait share the caller's evidence: print each line once.
  const printed = new Set<string>();
  for (const x of spec.targets.slice(0, MAX_TARGETS_SHOWN)) {
    const what =
      x.to === 'thread'
        ? state.threadName(x.ref)
        : x.to === 'pool'
          ? `${x.node}/pool ${x.pool}${x.queue !== undefined ? ` queue ${x.queue}` : ''}`
          : x.to === 'group'
            ? `${x.node}/${x.label}`
            : `${x.label} (outside the dumps)`;
    out.push(`  → ${what} via ${x.edge.label}`);
    for (const e of x.edge.evidence.slice(0, MAX_EVIDENCE_SHOWN)) {
      if (printed.has(e)) continue;
      printed.add(e);
      out.push(`      ${e}`);
    }
  }
  if (spec.targets.length > MAX_TARGETS_SHOWN) out.push(`  … ${spec.targets.length - MAX_TARGETS_SHOWN} more`);
  return out;
}
