// JSON dump forms: `jcmd PID Thread.dump_to_file -format=json` (JDK 21+) and rollcall's NodeDump.
// Both are small next to text dumps (no locks, short stacks), so JSON.parse on the whole input is
// fine; the input is validated field by field since it may be anything that starts with '{'.
import type { NodeDump, PoolSnapshot, ThreadSnapshot, WaitDescriptor } from '../threads/types.js';
import { normalizeState, ThreadRecord, type ParseContext } from './context.js';
import type { DumpFormat, ProcessDump, RollcallPoolInfo } from './model.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: Json | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length > 0 && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** Which JSON form the input is, from its first characters; undefined when it is not JSON. */
export function detectJsonFormat(head: string): DumpFormat | undefined {
  const t = head.trimStart();
  if (!t.startsWith('{')) return undefined;
  if (/"format"\s*:\s*"rollcall-dump\/1"/.test(head)) return 'rollcall-json';
  if (/"threadDump"\s*:/.test(head)) return 'jcmd-json';
  return undefined;
}

/** Parses a JSON dump; on malformed input every line counts unparsed and one error is reported. */
export function parseJsonDump(ctx: ParseContext, format: 'jcmd-json' | 'rollcall-json'): void {
  const lines = countLinesFast(ctx.text);
  ctx.totalLines = lines;
  let value: Json;
  try {
    value = JSON.parse(ctx.text) as Json;
  } catch (err) {
    failAll(ctx, lines, `malformed JSON dump: ${(err as Error).message}`);
    return;
  }
  const ok = format === 'jcmd-json' ? jcmdJson(ctx, value) : rollcallJson(ctx, value);
  if (ok !== true) {
    ctx.dumps.length = 0;
    ctx.current = undefined;
    failAll(ctx, lines, ok);
    return;
  }
  for (const d of ctx.dumps) d.endLine = lines;
  assignLines(ctx, format === 'jcmd-json' ? '"tid"' : '"startedAtMs"');
}

function failAll(ctx: ParseContext, lines: number, message: string): void {
  ctx.error(1, message);
  let pos = 0;
  for (let n = 1; n <= lines; n++) {
    let nl = ctx.text.indexOf('\n', pos);
    if (nl < 0) nl = ctx.text.length;
    ctx.unparsedLine(n, pos, nl);
    pos = nl + 1;
  }
}

function countLinesFast(text: string): number {
  let n = 0;
  let pos = 0;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    n++;
    pos = nl + 1;
  }
  return pos < text.length ? n + 1 : n;
}

/** Thread line numbers: the n-th occurrence of `marker` belongs to the n-th thread. */
function assignLines(ctx: ParseContext, marker: string): void {
  const threads = ctx.dumps.flatMap((d) => d.threads) as ThreadRecord[];
  let pos = 0;
  let line = 1;
  let from = 0;
  for (const t of threads) {
    const i = ctx.text.indexOf(marker, pos);
    if (i < 0) break;
    for (let nl = ctx.text.indexOf('\n', from); nl >= 0 && nl < i; nl = ctx.text.indexOf('\n', nl + 1)) {
      line++;
      from = nl + 1;
    }
    (t as { line: number }).line = line;
    pos = i + marker.length;
  }
}

function jcmdJson(ctx: ParseContext, value: Json): true | string {
  if (!isObject(value) || !isObject(value.threadDump)) return 'no "threadDump" object';
  const td = value.threadDump;
  const d = ctx.startDump('jcmd-json', 1);
  const pid = num(td.processId);
  if (pid !== undefined) d.pid = pid;
  const time = str(td.time);
  if (time !== undefined && !Number.isNaN(Date.parse(time))) d.capturedAtMs = Date.parse(time);
  const version = str(td.runtimeVersion);
  if (version !== undefined) d.jvmVersion = ctx.strings.get(version);
  const containers = td.threadContainers;
  if (!Array.isArray(containers)) return 'no "threadContainers" array';
  for (const c of containers) {
    if (!isObject(c) || !Array.isArray(c.threads)) continue;
    const container = str(c.container);
    for (const tj of c.threads) {
      if (!isObject(tj)) continue;
      const t = new ThreadRecord(ctx.strings.get(str(tj.name) ?? ''), 1);
      const tid = num(tj.tid);
      if (tid !== undefined) t.javaId = tid;
      if (container !== undefined) t.container = ctx.strings.get(container);
      if (tj.virtual === true) t.virtual = true;
      // JDK 24+ adds state, parkBlocker, blockedOn, waitingOn; JDK 21 prints none of them.
      const state = str(tj.state);
      if (state !== undefined) {
        t.state = normalizeState(state);
        t.stateDetail = ctx.strings.get(state);
      }
      const blocker = tj.parkBlocker;
      if (isObject(blocker) && str(blocker.object) !== undefined)
        t.waitingOnText = ctx.strings.get(str(blocker.object)!);
      const waitingOn = str(tj.waitingOn) ?? str(tj.blockedOn);
      if (waitingOn !== undefined) t.waitingOnText = ctx.strings.get(waitingOn);
      if (Array.isArray(tj.stack)) {
        for (const f of tj.stack) if (typeof f === 'string') t.addFrame(ctx.frames.intern(f));
      }
      ctx.addThread(t, 'jcmd-json');
    }
  }
  return true;
}

/** Frame text for a rollcall frame, the same from JSON as from text (`at X(Unknown Source)`). */
export function rollcallFrameText(frame: string): string {
  return `${frame}(Unknown Source)`;
}

function rollcallJson(ctx: ParseContext, value: Json): true | string {
  if (!isObject(value) || value.format !== 'rollcall-dump/1') return 'not a rollcall-dump/1 object';
  // The shape was checked at the top level; the fields are read defensively below.
  const nd = value as unknown as Partial<NodeDump>;
  if (!Array.isArray(nd.threads)) return 'no "threads" array';
  const d: ProcessDump = ctx.startDump('rollcall-json', 1);
  if (ctx.node === undefined && typeof nd.node === 'string') d.node = ctx.strings.get(nd.node);
  if (typeof nd.pid === 'number') d.pid = nd.pid;
  if (typeof nd.version === 'string') d.jvmVersion = ctx.strings.get(nd.version);
  if (typeof nd.role === 'string') d.role = ctx.strings.get(nd.role);
  if (typeof nd.capturedAtMs === 'number') d.capturedAtMs = nd.capturedAtMs;
  if (typeof nd.monotonicMs === 'number') d.monotonicMs = nd.monotonicMs;
  for (const s of nd.threads as Partial<ThreadSnapshot>[]) {
    const bad = badThread(s);
    if (bad !== undefined) {
      ctx.error(1, `rollcall thread ${bad} skipped`);
      continue;
    }
    ctx.addThread(rollcallThread(ctx, s as ThreadSnapshot, d.monotonicMs ?? 0), 'rollcall-json');
  }
  if (Array.isArray(nd.pools)) {
    const pools = (nd.pools as unknown[]).filter((p): p is PoolSnapshot => {
      if (isObject(p as Json)) return true;
      ctx.error(1, 'rollcall pool entry that is not an object skipped');
      return false;
    });
    d.pools = pools.map((p): RollcallPoolInfo => ({
      name: ctx.strings.get(String(p.name)),
      size: p.size,
      busy: p.busy,
      idle: p.idle,
      queueLengths: Array.isArray(p.queueLengths) ? [...p.queueLengths] : [],
      maxQueueLength: p.maxQueueLength,
      rejected: p.rejected,
      completed: p.completed,
      queuedTotal: p.queuedTotal,
      queued: Array.isArray(p.queued)
        ? p.queued
            .filter((q) => isObject(q as unknown as Json))
            .map((q) => ({
              callId: q.callId,
              method: q.method,
              callerNode: q.callerNode,
              callerThreadId: q.callerThreadId,
              queue: q.queue,
            }))
        : [],
    }));
  }
  return true;
}

/** Why a thread of a rollcall JSON dump cannot be read (its fields are read without further checks), or undefined. */
function badThread(s: Partial<ThreadSnapshot> | null): string | undefined {
  if (typeof s !== 'object' || s === null) return 'that is not an object';
  if (typeof s.name !== 'string' || typeof s.id !== 'number') return 'without name or id';
  const optionalObject = (v: unknown): boolean =>
    v === undefined || v === null || (typeof v === 'object' && !Array.isArray(v));
  if (s.pool !== undefined && s.pool !== null && typeof s.pool !== 'string')
    return `'${s.name}' with a pool that is not a name`;
  if (s.counters !== undefined && (typeof s.counters !== 'object' || s.counters === null || Array.isArray(s.counters)))
    return `'${s.name}' with counters that are not an object`;
  if (!optionalObject(s.wait)) return `'${s.name}' with a wait that is not an object`;
  if (!optionalObject(s.serving)) return `'${s.name}' with a serving call that is not an object`;
  return undefined;
}

function rollcallThread(ctx: ParseContext, s: ThreadSnapshot, monotonicMs: number): ThreadRecord {
  const t = new ThreadRecord(ctx.strings.get(s.name), 1);
  t.javaId = s.id;
  t.nid = s.id;
  t.tid = '0x' + s.id.toString(16).padStart(16, '0');
  t.daemon = s.daemon === true;
  t.priority = 5;
  t.osPriority = 0;
  const idle = s.state === 'IDLE';
  t.state = idle ? 'WAITING' : normalizeState(s.state);
  t.stateDetail = jstackStateLine(s.state);
  if (typeof s.startedAtMs === 'number') t.elapsedMs = Math.max(0, monotonicMs - s.startedAtMs);
  if (Array.isArray(s.frames)) for (const f of s.frames) t.addFrame(ctx.frames.intern(rollcallFrameText(String(f))));
  const info: NonNullable<ThreadRecord['rollcall']> = {};
  if (s.pool !== null && s.pool !== undefined) info.pool = ctx.strings.get(s.pool);
  if (s.counters !== undefined) {
    info.progress = s.counters.steps;
    info.completed = s.counters.completed;
    t.waitedCount = s.counters.waited;
    t.blockedCount = s.counters.blocked;
  }
  if (idle) info.idle = true;
  if (s.wait !== null && s.wait !== undefined) info.wait = { ...(s.wait as WaitDescriptor & { sinceMs?: number }) };
  if (s.serving !== null && s.serving !== undefined) info.serving = { ...s.serving };
  t.rollcall = info;
  return t;
}

/** The state text rollcall's text form prints, so JSON and text parse to the same stateDetail. */
function jstackStateLine(state: ThreadSnapshot['state']): string {
  switch (state) {
    case 'RUNNABLE':
      return 'RUNNABLE';
    case 'BLOCKED':
      return 'BLOCKED (on object monitor)';
    case 'TIMED_WAITING':
      return 'TIMED_WAITING (parking)';
    default:
      return 'WAITING (parking)';
  }
}
