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

/** Where a waiting thread's lock line is, and what kind of edge it makes. */
function waitLine(t: ThreadDump): { line: LockLine; kind: 'monitor' | 'lock' } | undefined {
  const lines = linesOf(t);
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k]!;
    if (l.address.length === 0) continue;
    if (l.kind === 'waiting-to-lock' || l.kind === 'blocked-on' || l.kind === 'waiting-to-re-lock') {
      return { line: l, kind: 'monitor' };
    }
    if (l.kind === 'parking') return { line: l, kind: 'lock' };
  }
  return undefined;
}

/** Parses the owner's Java id from `owned by "name" Id=N` (JMX) or `N (name)` (Hadoop /stacks). */
function ownerIdFromText(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /\bId=(\d+)/i.exec(text) ?? /^\s*(\d+)\b/.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** A thread that may wait on another: its index and the lock line it waits on, if any. */
interface Waiter {
  thread: number;
  wait: { line: LockLine; kind: 'monitor' | 'lock' } | undefined;
}

/** Whether the thread's lock lines release this monitor (Object.wait() still prints `- locked` for it). */
function releases(lines: readonly LockLine[], address: string): boolean {
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k]!;
    if ((l.kind === 'waiting-on' || l.kind === 'waiting-to-re-lock') && l.address === address) return true;
  }
  return false;
}

/** The first holder of each address waited on, monitors and ownable synchronizers apart. */
function holders(
  threads: readonly ThreadDump[],
  waiters: readonly Waiter[],
): { monitors: Map<string, Held>; ownable: Map<string, Held> } {
  const monitors = new Map<string, Held>();
  const ownable = new Map<string, Held>();
  // Only the addresses some thread waits on: most locks a dump lists are held by nobody's waiter.
  const wantedMonitors = new Set<string>();
  const wantedOwnable = new Set<string>();
  for (let k = 0; k < waiters.length; k++) {
    const wait = waiters[k]!.wait;
    if (wait !== undefined) (wait.kind === 'monitor' ? wantedMonitors : wantedOwnable).add(wait.line.address);
  }
  if (wantedMonitors.size === 0 && wantedOwnable.size === 0) return { monitors, ownable };
  for (let i = 0; i < threads.length; i++) {
    const t = threads[i]!;
    if (wantedMonitors.size > 0) {
      const lines = linesOf(t);
      for (let k = 0; k < lines.length; k++) {
        const l = lines[k]!;
        if (l.kind !== 'locked' || !wantedMonitors.has(l.address) || monitors.has(l.address)) continue;
        if (releases(lines, l.address)) continue;
        monitors.set(l.address, { thread: i, frame: frameText(t, l.frame), className: l.className });
      }
    }
    if (wantedOwnable.size > 0) {
      const own = t.ownableSynchronizers;
      for (let k = 0; k < own.length; k++) {
        const o = own[k]!;
        if (wantedOwnable.has(o.address) && !ownable.has(o.address))
          ownable.set(o.address, { thread: i, frame: '', className: o.className });
      }
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
 * most dumps no waiter's lock is held by anyone: owners are looked up only for the addresses
 * waited on, and the evidence strings are built only for the edges found.
 */
export function lockEdges(dump: ProcessDump): LockEdge[] {
  const threads = dump.threads;
  const waiters: Waiter[] = [];
  for (let i = 0; i < threads.length; i++) {
    const t = threads[i]!;
    if (t.state !== 'BLOCKED' && t.state !== 'WAITING' && t.state !== 'TIMED_WAITING' && t.state !== 'UNKNOWN')
      continue;
    const wait = waitLine(t);
    if (wait !== undefined || t.blockedByText !== undefined) waiters.push({ thread: i, wait });
  }
  if (waiters.length === 0) return [];
  const { monitors, ownable } = holders(threads, waiters);
  let byJavaId: Map<number, number> | undefined;
  const edges: LockEdge[] = [];
  for (let k = 0; k < waiters.length; k++) {
    const { thread: i, wait: w } = waiters[k]!;
    const t = threads[i]!;
    // JDK 6 printed j.u.c. owners nowhere but in the deadlock section; nothing to do then.
    const held = w === undefined ? undefined : (w.kind === 'monitor' ? monitors : ownable).get(w.line.address);
    const kind = w === undefined ? 'monitor' : w.kind;
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
      const evidence = waitEvidence(t, w);
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
    const evidence = waitEvidence(t, w);
    evidence.push(
      kind === 'lock'
        ? `"${owner.name}" owns ${describeLock(w!.line.address, held.className)} (Locked ownable synchronizers)`
        : `"${owner.name}" at ${held.frame} - locked ${describeLock(w!.line.address, held.className)}`,
    );
    edges.push({
      from: i,
      to: held.thread,
      kind,
      label: `${kind === 'lock' ? 'parking to wait for' : 'waiting to lock'} ${describeLock(w!.line.address, w!.line.className || held.className)} held by "${owner.name}"`,
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
