// Lock edges inside one JVM dump: Java monitors (`waiting to lock <a>` against `- locked <a>`) and
// java.util.concurrent locks (`parking to wait for <a>` against `Locked ownable synchronizers`),
// plus the JMX / Hadoop `owned by` / `Blocked by` texts — whether or not the JVM printed its own
// deadlock section. The JVM's sections are read too (mapJvmDeadlocks), and they add edges of their
// own, so a cycle the JVM saw is never missed even when lock lines are absent (jstack without -l).
import type { JvmDeadlock, LockLine, ProcessDump, ThreadDump } from '../dumps/model.js';
import type { EdgeKind } from '../waitgraph/index.js';

export interface LockEdge {
  /** Indexes into dump.threads. */
  from: number;
  to: number;
  kind: Extract<EdgeKind, 'monitor' | 'lock'>;
  label: string;
  evidence: string[];
}

interface Held {
  thread: number;
  /** Frame the `locked` line follows, for evidence. */
  frame: string;
  className: string;
}

function linesOf(t: ThreadDump): readonly LockLine[] {
  const m = t.mountedVirtualThread;
  return m !== undefined && m.locks.length > 0 ? m.locks : t.locks;
}

function frameText(t: ThreadDump, index: number): string {
  const m = t.mountedVirtualThread;
  const frames = m !== undefined && m.frames.length > 0 ? m.frames : t.frames;
  const f = frames[Math.max(0, index)];
  return f === undefined ? '(no frame)' : f.text;
}

const MECHANISM = /^(?:jdk\.internal\.misc\.Unsafe|sun\.misc\.Unsafe|java\.util\.concurrent\.locks\.)/;

/** The first frame below `index` that is not lock machinery (Unsafe, LockSupport, AQS, ReentrantLock). */
function callerFrame(t: ThreadDump, index: number): string | undefined {
  const m = t.mountedVirtualThread;
  const frames = m !== undefined && m.frames.length > 0 ? m.frames : t.frames;
  if (!MECHANISM.test(frames[index]?.text ?? '') && !MECHANISM.test(frames[index]?.className ?? '')) return undefined;
  for (let i = index + 1; i < frames.length && i < index + 32; i++) {
    const f = frames[i]!;
    if (!MECHANISM.test(f.className)) return f.text;
  }
  return undefined;
}

const describeLock = (address: string, className: string) =>
  `<${address}>${className.length > 0 ? ` (a ${className})` : ''}`;

/** The lock line a thread waits on (its first), as an index into its lock lines, or -1. */
function waitLineIndex(lines: readonly LockLine[]): number {
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k]!;
    if (l.address.length === 0) continue;
    if (waitKindOf(l) !== undefined) return k;
  }
  return -1;
}

function waitKindOf(l: LockLine): 'monitor' | 'lock' | undefined {
  if (l.kind === 'waiting-to-lock' || l.kind === 'blocked-on' || l.kind === 'waiting-to-re-lock') return 'monitor';
  return l.kind === 'parking' ? 'lock' : undefined;
}

/** Parses the owner's Java id from `owned by "name" Id=N` (JMX) or `N (name)` (Hadoop /stacks). */
function ownerIdFromText(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /\bId=(\d+)/i.exec(text) ?? /^\s*(\d+)\b/.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** Whether the thread's lock lines release this monitor (Object.wait() still prints `- locked` for it). */
function releases(lines: readonly LockLine[], address: string): boolean {
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k]!;
    if ((l.kind === 'waiting-on' || l.kind === 'waiting-to-re-lock') && l.address === address) return true;
  }
  return false;
}

/**
 * The first holder of each address held in the dump, monitors and ownable synchronizers apart.
 * Few threads hold anything, so this is cheaper than collecting what every waiter waits on first.
 */
function holders(threads: readonly ThreadDump[]): { monitors: Map<string, Held>; ownable: Map<string, Held> } {
  const monitors = new Map<string, Held>();
  const ownable = new Map<string, Held>();
  for (let i = 0; i < threads.length; i++) {
    const t = threads[i]!;
    const lines = linesOf(t);
    for (let k = 0; k < lines.length; k++) {
      const l = lines[k]!;
      if (l.kind !== 'locked' || monitors.has(l.address)) continue;
      if (releases(lines, l.address)) continue;
      monitors.set(l.address, { thread: i, frame: frameText(t, l.frame), className: l.className });
    }
    const own = t.ownableSynchronizers;
    for (let k = 0; k < own.length; k++) {
      const o = own[k]!;
      if (!ownable.has(o.address)) ownable.set(o.address, { thread: i, frame: '', className: o.className });
    }
  }
  return { monitors, ownable };
}

/** What the waiting thread's own lock lines say: its frame, the lock line, the code that asked. */
function waitEvidence(t: ThreadDump, w: { line: LockLine; kind: 'monitor' | 'lock' } | undefined): string[] {
  if (w === undefined) return [];
  const verb =
    w.kind === 'lock'
      ? 'parking to wait for'
      : w.line.kind === 'waiting-to-re-lock'
        ? 'waiting to re-lock'
        : 'waiting to lock';
  const evidence = [
    `"${t.name}" at ${frameText(t, w.line.frame)}`,
    `- ${verb} ${describeLock(w.line.address, w.line.className)}`,
  ];
  // For a park the frame is Unsafe.park: name the code that asked for the lock too.
  const caller = callerFrame(t, w.line.frame);
  if (caller !== undefined) evidence.push(`  called from ${caller}`);
  return evidence;
}

/**
 * Every lock edge of one dump. O(threads + lock lines). Runs for every dump of every round, and in
 * most dumps no waiter's lock is held by anyone: the holders are found first (few threads hold
 * anything), and the evidence strings are built only for the edges found.
 */
export function lockEdges(dump: ProcessDump): LockEdge[] {
  const threads = dump.threads;
  let found: ReturnType<typeof holders> | undefined;
  let byJavaId: Map<number, number> | undefined;
  const edges: LockEdge[] = [];
  for (let i = 0; i < threads.length; i++) {
    const t = threads[i]!;
    if (t.state !== 'BLOCKED' && t.state !== 'WAITING' && t.state !== 'TIMED_WAITING' && t.state !== 'UNKNOWN')
      continue;
    const lines = linesOf(t);
    const at = waitLineIndex(lines);
    if (at < 0 && t.blockedByText === undefined) continue;
    const line = at < 0 ? undefined : lines[at]!;
    const kind = line === undefined ? 'monitor' : waitKindOf(line)!;
    found ??= holders(threads);
    // JDK 6 printed j.u.c. owners nowhere but in the deadlock section; nothing to do then.
    const held =
      line === undefined ? undefined : (kind === 'monitor' ? found.monitors : found.ownable).get(line.address);
    if (held === undefined) {
      // JMX `owned by "x" Id=N`, Hadoop `Blocked by N (x)`.
      const ownerId = ownerIdFromText(t.blockedByText);
      if (ownerId === undefined) continue;
      if (byJavaId === undefined) {
        byJavaId = new Map();
        for (let k = 0; k < threads.length; k++) {
          const id = threads[k]!.javaId;
          if (id !== undefined) byJavaId.set(id, k);
        }
      }
      const owner = byJavaId.get(ownerId);
      if (owner === undefined || owner === i) continue;
      const evidence = waitEvidence(t, line === undefined ? undefined : { line, kind });
      if (evidence.length === 0) evidence.push(`"${t.name}" at ${frameText(t, 0)}`);
      if (t.waitingOnText !== undefined) evidence.push(`waiting on ${t.waitingOnText}`);
      evidence.push(`blocked by ${t.blockedByText}`);
      edges.push({
        from: i,
        to: owner,
        kind,
        label: `${kind === 'lock' ? 'lock' : 'monitor'} owned by "${threads[owner]!.name}"`,
        evidence,
      });
      continue;
    }
    if (held.thread === i) continue;
    const owner = threads[held.thread]!;
    const evidence = waitEvidence(t, line === undefined ? undefined : { line, kind });
    evidence.push(
      kind === 'lock'
        ? `"${owner.name}" owns ${describeLock(line!.address, held.className)} (Locked ownable synchronizers)`
        : `"${owner.name}" at ${held.frame} - locked ${describeLock(line!.address, held.className)}`,
    );
    edges.push({
      from: i,
      to: held.thread,
      kind,
      label: `${kind === 'lock' ? 'parking to wait for' : 'waiting to lock'} ${describeLock(line!.address, line!.className || held.className)} held by "${owner.name}"`,
      evidence,
    });
  }
  return edges;
}

/** One JVM-reported deadlock section, mapped onto the dump's threads where that is unambiguous. */
export interface MappedJvmDeadlock {
  section: JvmDeadlock;
  /** dump.threads index per entry (undefined when the name could not be pinned down). */
  threads: (number | undefined)[];
  edges: LockEdge[];
  kind: 'java-monitor' | 'java-lock';
}

/**
 * Maps `Found one Java-level deadlock` entries to threads. Names are not unique (13 has two
 * "DeadlockThread-A"), so a candidate must also wait on the entry's lock address, and a holder must
 * hold it; a name with a single candidate is accepted as is.
 */
export function mapJvmDeadlocks(dump: ProcessDump): MappedJvmDeadlock[] {
  if (dump.deadlocks.length === 0) return [];
  const byName = new Map<string, number[]>();
  dump.threads.forEach((t, i) => {
    const list = byName.get(t.name);
    if (list === undefined) byName.set(t.name, [i]);
    else list.push(i);
  });
  const waitsOn = (i: number, addr: string | undefined) =>
    addr !== undefined && linesOf(dump.threads[i]!).some((l) => l.address === addr && l.kind !== 'locked');
  const holds = (i: number, addr: string | undefined) =>
    addr !== undefined &&
    (linesOf(dump.threads[i]!).some((l) => l.address === addr && l.kind === 'locked') ||
      dump.threads[i]!.ownableSynchronizers.some((s) => s.address === addr));
  const pick = (name: string, test: (i: number) => boolean): number | undefined => {
    const candidates = byName.get(name) ?? [];
    if (candidates.length === 1) return candidates[0];
    const matching = candidates.filter(test);
    return matching.length === 1 ? matching[0] : undefined;
  };
  return dump.deadlocks.map((section) => {
    const threads = section.entries.map((e) => pick(e.thread, (i) => waitsOn(i, e.lockAddress)));
    const edges: LockEdge[] = [];
    let ownable = false;
    section.entries.forEach((e, k) => {
      const from = threads[k];
      const to = pick(e.heldBy, (i) => holds(i, e.lockAddress));
      if (e.lockKind === 'ownable') ownable = true;
      if (from === undefined || to === undefined || from === to) return;
      const kind = e.lockKind === 'ownable' ? 'lock' : 'monitor';
      edges.push({
        from,
        to,
        kind,
        label: `JVM: waiting to lock ${e.waitingToLock} held by "${e.heldBy}"`,
        evidence: [
          `Found one Java-level deadlock (line ${section.line}): "${e.thread}": waiting to lock ${e.waitingToLock}, which is held by "${e.heldBy}"`,
        ],
      });
    });
    return { section, threads, edges, kind: ownable ? 'java-lock' : 'java-monitor' };
  });
}
