// jstack-shaped text for a rollcall node's dump, so JVM tooling and rollcall's parser read it.
// The rollcall-specific facts (what a thread waits on, whom a handler serves, pool state) are
// carried on lines starting with "\t- rollcall: " as key=value tokens; values never contain spaces
// (lists are comma-separated), so a reader can split on whitespace.
import type { NodeDump, PoolSnapshot, ThreadSnapshot, WaitDescriptor } from './types.js';

/** Longest barrier member list printed; the count is always printed in full. */
export const MAX_LISTED_MEMBERS = 64;

export function formatDumpText(dump: NodeDump): string {
  const out: string[] = [];
  out.push(formatTimestamp(dump.capturedAtMs));
  out.push(
    `Full thread dump rollcall ${dump.version.replace(/^rollcall /, '')} (node=${dump.node} role=${dump.role} pid=${dump.pid} monotonicMs=${dump.monotonicMs.toFixed(3)}):`,
  );
  out.push('');
  for (const t of dump.threads) formatThread(t, dump.monotonicMs, out);
  formatPools(dump.pools, out);
  return out.join('\n') + '\n';
}

function formatThread(t: ThreadSnapshot, nowMs: number, out: string[]): void {
  const hex = '0x' + t.id.toString(16).padStart(16, '0');
  const elapsedS = Math.max(0, (nowMs - t.startedAtMs) / 1000).toFixed(2);
  const pool = t.pool === null ? '' : ` pool=${t.pool}`;
  out.push(
    `"${t.name}" #${t.id}${t.daemon ? ' daemon' : ''} prio=5 os_prio=0 elapsed=${elapsedS}s progress=${t.counters.steps} completed=${t.counters.completed}${pool} tid=${hex} nid=0x${t.id.toString(16)} ${statusWord(t)}  [0x0000000000000000]`,
  );
  out.push(`   java.lang.Thread.State: ${stateLine(t)}`);
  t.frames.forEach((frame, i) => {
    out.push(`\tat ${frame}(Unknown Source)`);
    if (i === 0) {
      if (t.state === 'IDLE') out.push('\t- rollcall: idle');
      else if (t.wait) out.push(`\t- rollcall: ${formatWait(t.wait, nowMs)}`);
    }
  });
  if (t.frames.length === 0) {
    if (t.state === 'IDLE') out.push('\t- rollcall: idle');
    else if (t.wait) out.push(`\t- rollcall: ${formatWait(t.wait, nowMs)}`);
  }
  if (t.serving) {
    const s = t.serving;
    out.push(
      `\t- rollcall: serving call=${s.callId} method=${s.method} caller=${s.callerNode} callerThread=${s.callerThreadId} forMs=${Math.max(0, nowMs - s.sinceMs).toFixed(1)}`,
    );
  }
  out.push('');
}

export function formatWait(w: WaitDescriptor & { sinceMs?: number }, nowMs: number): string {
  const forMs = w.sinceMs === undefined ? '' : ` forMs=${Math.max(0, nowMs - w.sinceMs).toFixed(1)}`;
  switch (w.kind) {
    case 'rpc':
      return `waiting on rpc call=${w.callId} method=${w.method} target=${w.target}${w.targetAddr ? ` addr=${w.targetAddr}` : ''} deadlineInMs=${(w.deadlineMs - nowMs).toFixed(0)}${forMs}`;
    case 'barrier': {
      const listed = w.missing.slice(0, MAX_LISTED_MEMBERS).join(',');
      return `waiting on barrier procedure=${w.procedure} instance=${w.instance} phase=${w.phase} missingCount=${w.missing.length} missing=${listed || '-'}${forMs}`;
    }
    case 'queue':
      return `waiting on queue queue=${w.queue}${w.owner ? ` owner=${w.owner}` : ''}${forMs}`;
    case 'lock':
      return `waiting on lock lock=${w.lock}${w.owner ? ` owner=${w.owner.node}#${w.owner.threadId}` : ''}${forMs}`;
    case 'timer':
      return `sleeping reason=${w.reason} untilInMs=${(w.untilMs - nowMs).toFixed(0)}${forMs}`;
    case 'io':
      return `waiting on io what=${w.what}${forMs}`;
  }
}

function formatPools(pools: PoolSnapshot[], out: string[]): void {
  if (pools.length === 0) return;
  out.push('rollcall pools:');
  for (const p of pools) {
    out.push(
      `  pool=${p.name} size=${p.size} busy=${p.busy} idle=${p.idle} queues=${p.queueLengths.join(',')} maxQueueLength=${p.maxQueueLength} rejected=${p.rejected} completed=${p.completed} queuedTotal=${p.queuedTotal}`,
    );
    for (const q of p.queued) {
      out.push(
        `    queued call=${q.callId} method=${q.method} caller=${q.callerNode} callerThread=${q.callerThreadId} queue=${q.queue}`,
      );
    }
  }
  out.push('');
}

function statusWord(t: ThreadSnapshot): string {
  switch (t.state) {
    case 'RUNNABLE':
      return 'runnable';
    case 'BLOCKED':
      return 'waiting for monitor entry';
    default:
      return 'waiting on condition';
  }
}

function stateLine(t: ThreadSnapshot): string {
  switch (t.state) {
    case 'RUNNABLE':
      return 'RUNNABLE';
    case 'BLOCKED':
      return 'BLOCKED (on object monitor)';
    case 'TIMED_WAITING':
      return 'TIMED_WAITING (parking)';
    case 'WAITING':
    case 'IDLE':
      return 'WAITING (parking)';
  }
}

function formatTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');
}
