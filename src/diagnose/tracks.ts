// Ingest: every thread of every sample joins its track (identity across samples: identity.ts),
// which keeps a few numbers per round and what changed; threads join pools (by name, by rule, or by
// the executor frames they run); what a thread serves goes to the service directory; a node's roles
// and peers are read off its threads. Everything per stack is memoized by stack key (stacks.ts), so
// the cost is linear in threads.
import type { Frame, LockLine, ProcessDump, ThreadDump } from '../dumps/model.js';
import { identityKeys } from './identity.js';
import {
  ABSENT,
  CODE_B,
  CODE_MASK,
  CODE_N,
  CODE_R,
  CODE_W,
  MAX_TRACKS,
  NATURE_IDLE,
  NATURE_SLEEPING,
  type AnalysisState,
  type NodeState,
  type Track,
} from './model.js';
import { PoolNamer } from './pools.js';
import type { RulePack } from './rules.js';
import type { ServiceDirectory } from './services.js';
import {
  StackClassifier,
  effectiveFrames,
  effectiveStackKey,
  qualified,
  stateCode,
  type StackFacts,
  type StateCode,
} from './stacks.js';

const CODE_BITS: Record<StateCode, number> = { R: CODE_R, W: CODE_W, B: CODE_B, N: CODE_N };
const HOST_PORT = /\bto ([A-Za-z0-9_.-]+(?:\/[0-9A-Fa-f.:]+)?):(\d{1,5})\b/;
const MAX_PEERS = 10_000;
const NO_FRAMES: readonly Frame[] = Object.freeze([]);
const NO_LOCK_LINES: readonly LockLine[] = Object.freeze([]);

/** One sample of one node, ingested: dump index → track and stack facts. */
export interface IngestedDump {
  node: NodeState;
  dump: ProcessDump;
  trackOf: number[];
  facts: StackFacts[];
}

export class TrackIngest {
  private readonly classifier: StackClassifier;
  private readonly namer: PoolNamer;
  private readonly stackIds = new Map<string, number>();
  /** Frames of each distinct stack (detail only). */
  readonly stackFrames: string[][] = [];

  constructor(
    private readonly state: AnalysisState,
    private readonly packs: readonly RulePack[],
    private readonly directory: ServiceDirectory,
    private readonly detail: boolean,
  ) {
    this.classifier = new StackClassifier(packs);
    this.namer = new PoolNamer(packs);
  }

  /** Updates every thread's track with this sample of `node` in round r. */
  ingest(node: NodeState, dump: ProcessDump, r: number, atMs: number | undefined): IngestedDump {
    const state = this.state;
    node.rounds.push(r);
    node.threadsPerSample.push(dump.threads.length);
    if (node.format === '') node.format = dump.format;
    node.unparsedLines += dump.unparsedLines;
    if (dump.role !== undefined && dump.role.length > 0) node.roles.add(dump.role);
    if (!node.rolesInferred) this.inferRoles(node, dump);
    const keys = identityKeys(dump.threads);
    const trackOf = new Array<number>(dump.threads.length);
    const facts = new Array<StackFacts>(dump.threads.length);
    for (let i = 0; i < dump.threads.length; i++) {
      const t = dump.threads[i]!;
      const frames = effectiveFrames(t);
      const stack = effectiveStackKey(t);
      let code = stateCode(t.state, frames);
      const f = this.classifier.facts(stack, frames, code);
      // Blocked in the kernel on a client call's reply: waiting on the call, not running.
      if (f.waitsOnCall === true) code = 'W';
      const rc = t.rollcall;
      const idle = rc?.idle === true || (f.nature === 'idle' && rc?.wait === undefined);
      const sleeping = !idle && (f.nature === 'sleeping' || rc?.wait?.kind === 'timer');
      facts[i] = f;
      let ti = node.ids.get(keys[i]!);
      let tr: Track;
      if (ti === undefined) {
        ti = this.newTrack(node, keys[i]!, t, f, stack);
        tr = state.tracks[ti]!;
      } else tr = state.tracks[ti]!;
      trackOf[i] = ti;
      if (t.cpuMs !== undefined) {
        if (tr.cpuFirstMs === undefined) {
          tr.cpuFirstMs = t.cpuMs;
          tr.cpuFirstAtMs = atMs;
        }
        tr.cpuLastMs = t.cpuMs;
        tr.cpuLastAtMs = atMs;
      }
      this.observe(node, tr, t, r, stack, code, idle, sleeping, f);
      if (f.serves !== undefined) {
        this.directory.record(r, ti, node.index, f.serves, tr.membership?.pool);
        const pool = tr.membership === undefined ? undefined : node.pools.get(tr.membership.pool);
        if (pool !== undefined) pool.serves.set(f.serves.service, (pool.serves.get(f.serves.service) ?? 0) + 1);
      }
      if (idle && f.handoff === true && tr.membership !== undefined) {
        const pool = node.pools.get(tr.membership.pool);
        if (pool !== undefined) pool.unbounded = true;
      }
      if (this.detail) {
        let sid = this.stackIds.get(stack);
        if (sid === undefined) {
          sid = this.stackFrames.length;
          this.stackIds.set(stack, sid);
          this.stackFrames.push(frames.map((x) => x.text));
        }
        tr.stacks![r] = sid;
      }
      if (t.name.includes('onnection') || t.name.includes(' to ')) {
        const m = HOST_PORT.exec(t.name);
        if (m !== null && node.peers.size < MAX_PEERS) node.peers.add(`${m[1]}:${m[2]}`);
      }
    }
    for (const p of dump.pools ?? []) {
      const pool = node.pools.get(p.name);
      if (pool !== undefined) {
        pool.queuedLast = p.queuedTotal;
        pool.declaredSize = p.size;
      }
    }
    return { node, dump, trackOf, facts };
  }

  private newTrack(node: NodeState, key: string, t: ThreadDump, f: StackFacts, stack: string): number {
    const state = this.state;
    if (state.tracks.length >= MAX_TRACKS) throw new RangeError(`more than ${MAX_TRACKS} threads`);
    const ti = state.tracks.length;
    node.ids.set(key, ti);
    const membership = this.namer.of(t.name, t.rollcall?.pool, f.worker);
    state.tracks.push({
      node: node.index,
      name: t.name,
      javaId: t.javaId,
      membership,
      codes: [],
      stacks: this.detail ? [] : undefined,
      present: 0,
      changed: false,
      changeReason: undefined,
      countersRose: false,
      prevStack: stack,
      prevCode: -1,
      prevLock: '',
      prevRc: '',
      prevCpu: undefined,
      prevAlloc: undefined,
      prevBlocked: undefined,
      prevWaited: undefined,
      prevProgress: undefined,
      prevCompleted: undefined,
      firstCpu: t.cpuMs,
      cpuFirstMs: undefined,
      cpuFirstAtMs: undefined,
      cpuLastMs: undefined,
      cpuLastAtMs: undefined,
      lastRound: -1,
      idleRounds: 0,
      nonLive: 0,
      strictNonLive: 0,
      recognizedWait: false,
      lastState: '',
      lastFrames: NO_FRAMES,
      lastLocks: NO_LOCK_LINES,
      lastFacts: f,
      cls: 'idle',
    });
    if (membership !== undefined) {
      let p = node.pools.get(membership.pool);
      if (p === undefined) {
        p = { name: membership.pool, family: membership.family, tracks: [], unbounded: false, serves: new Map() };
        node.pools.set(membership.pool, p);
      }
      p.tracks.push(ti);
      if (membership.unbounded === true) p.unbounded = true;
      if (membership.size !== undefined) p.declaredSize = membership.size;
      if (membership.port !== undefined) node.ports.add(membership.port);
    }
    return ti;
  }

  private observe(
    node: NodeState,
    tr: Track,
    t: ThreadDump,
    r: number,
    stack: string,
    code: StateCode,
    idle: boolean,
    sleeping: boolean,
    f: StackFacts,
  ): void {
    const packed = CODE_BITS[code] | (idle ? NATURE_IDLE : 0) | (sleeping ? NATURE_SLEEPING : 0);
    while (tr.codes.length < r) tr.codes.push(ABSENT);
    tr.codes[r] = packed;
    const lock = waitingLockAddress(t);
    const rc = rcSignature(t);
    if (tr.present > 0) {
      const change =
        tr.lastRound !== node.rounds[node.rounds.length - 2]
          ? 'absent from a sample in between'
          : packed !== tr.prevCode
            ? 'its state changed'
            : stack !== tr.prevStack
              ? 'its stack changed'
              : lock !== tr.prevLock
                ? `it waits on another object (<${tr.prevLock}> then <${lock}>)`
                : rc !== tr.prevRc
                  ? 'its rollcall wait or call changed'
                  : rose(tr.prevProgress, t.rollcall?.progress) || rose(tr.prevCompleted, t.rollcall?.completed)
                    ? 'its progress counters rose'
                    : undefined;
      if (change !== undefined) {
        tr.changed = true;
        tr.changeReason ??= `${change} between samples`;
      } else if (
        rose(tr.prevCpu, t.cpuMs) ||
        rose(tr.prevAlloc, t.allocatedBytes) ||
        rose(tr.prevBlocked, t.blockedCount) ||
        rose(tr.prevWaited, t.waitedCount)
      ) {
        tr.countersRose = true;
      }
    }
    tr.prevCode = packed;
    tr.prevStack = stack;
    tr.prevLock = lock;
    tr.prevRc = rc;
    tr.prevCpu = t.cpuMs;
    tr.prevAlloc = t.allocatedBytes;
    tr.prevBlocked = t.blockedCount;
    tr.prevWaited = t.waitedCount;
    tr.prevProgress = t.rollcall?.progress;
    tr.prevCompleted = t.rollcall?.completed;
    tr.present++;
    tr.lastRound = r;
    if (idle) tr.idleRounds++;
    tr.lastState = t.stateDetail || t.state;
    tr.lastFrames = t.frames;
    tr.lastLocks = t.locks;
    tr.lastFacts = f;
    if (t.name !== tr.name) tr.name = t.name;
  }

  private inferRoles(node: NodeState, dump: ProcessDump): void {
    node.rolesInferred = true;
    const rules = this.packs.flatMap((p) => p.roles);
    let distinct: Set<Frame> | undefined;
    for (const rule of rules) {
      if (node.roles.has(rule.role)) continue;
      if (rule.nodeName !== undefined && rule.nodeName.test(node.name)) {
        node.roles.add(rule.role);
        continue;
      }
      if (rule.threadName !== undefined) {
        const re = rule.threadName;
        if (dump.threads.some((t) => re.test(t.name))) {
          node.roles.add(rule.role);
          continue;
        }
      }
      if (rule.frame !== undefined) {
        const re = rule.frame;
        distinct ??= distinctFrames(dump);
        for (const f of distinct) {
          if (re.test(qualified(f))) {
            node.roles.add(rule.role);
            break;
          }
        }
      }
    }
  }
}

/** Whether the thread, in round r, is busy and parked or blocked (not running, idle or asleep). */
export function busyWaiting(tr: Track, r: number): boolean {
  const c = tr.codes[r]!;
  return (
    c !== ABSENT &&
    (c & (NATURE_IDLE | NATURE_SLEEPING)) === 0 &&
    (c & CODE_MASK) !== CODE_R &&
    (c & CODE_MASK) !== CODE_N
  );
}

/** Each distinct frame of a dump once (role rules test frames; stacks repeat). */
function distinctFrames(dump: ProcessDump): Set<Frame> {
  const out = new Set<Frame>();
  for (const t of dump.threads) for (const f of t.frames) out.add(f);
  return out;
}

function rose(prev: number | undefined, now: number | undefined): boolean {
  return prev !== undefined && now !== undefined && now !== prev;
}

export function waitingLockAddress(t: ThreadDump): string {
  // Indexed: runs for every thread of every sample, and a for-of allocates when not optimized.
  const locks = t.locks;
  for (let k = 0; k < locks.length; k++) {
    const l = locks[k]!;
    if (l.kind === 'waiting-to-lock' || l.kind === 'parking' || l.kind === 'blocked-on' || l.kind === 'waiting-on')
      return l.address;
  }
  return '';
}

function rcSignature(t: ThreadDump): string {
  const w = t.rollcall?.wait;
  const s = t.rollcall?.serving;
  if (w === undefined && s === undefined) return '';
  let sig = '';
  if (w !== undefined) {
    sig = w.kind;
    if (w.kind === 'rpc') sig += `:${w.target}:${w.callId}`;
    else if (w.kind === 'barrier') sig += `:${w.instance}:${w.phase}:${w.missing.length}`;
  }
  if (s !== undefined) sig += `|${s.callerNode}:${s.callId}`;
  return sig;
}
