// A ZooKeeper server on a node of the simulated world. It keeps what a standalone ZooKeeper keeps
// and behaves as one does where rollcall depends on it:
// - sessions expire when the server has heard nothing from them for their timeout (virtual time),
//   and their ephemeral znodes go with them; a client that comes back after that is told so;
// - requests are applied in arrival order; writes wait for a group commit of the transaction log
//   (writeMs), reads wait for the writes before them, so every session sees its own order;
// - watches are one-shot and belong to a connection; a session resuming on a new connection sends
//   the watches it holds and the last transaction it saw, and what changed since fires at once
//   (ZooKeeper's SetWatches), so no event is lost with a connection;
// - it talks over the node's simulated network, so latency, partitions and crashed clients are the
//   fault injector's, not special cases here.
import { NO_SESSION, type ZkEventType } from '../../zookeeper.js';
import type { Address, Clock, Connection, Listener, Substrate, TimerHandle } from '../../types.js';
import { assert } from '../../../util/assert.js';
import { TreeError, ZnodeTree, type FiredWatch, type TreeOp } from './tree.js';
import {
  decodeFrame,
  encodeFrame,
  type ClientMessage,
  type ServerMessage,
  type WatchSet,
  type WireOp,
} from './wire.js';

export interface SimZkServerOptions {
  listen: Address;
  /** Time of one group commit of the transaction log. */
  writeMs?: number;
  /** Bounds the server clamps requested session timeouts to (ZooKeeper: 2 and 20 ticks). */
  minSessionTimeoutMs?: number;
  maxSessionTimeoutMs?: number;
  log?: (message: string) => void;
}

export const SIM_ZK_DEFAULTS = {
  port: 2181,
  writeMs: 1,
  minSessionTimeoutMs: 200,
  maxSessionTimeoutMs: 120_000,
} as const;

/** Bound on live sessions: more is a leak in the code under test. */
export const MAX_SIM_ZK_SESSIONS = 200_000;
/** Bound on requests applied or waiting at once. */
const MAX_QUEUED_REQUESTS = 1_000_000;
/** Slack for timers that fire at a deadline computed in floating point (see client.ts). */
const TIME_EPSILON_MS = 1e-6;
/** First session id, so ids look like a server's (never NO_SESSION). */
const FIRST_SESSION_ID = 0x1000_0000;

interface Session {
  sid: string;
  timeoutMs: number;
  lastHeardMs: number;
  conn: Connection | null;
  /** Node the session's last connection came from (fault injection expires sessions by node). */
  host: string;
  ephemerals: Set<string>;
  timer: TimerHandle;
  /** Highest request id seen: a duplicated frame is applied once. */
  lastXid: number;
  /** No more requests once its end was decided; gone once that end was committed. */
  closing: boolean;
  gone: boolean;
}

export interface SimZkServerStats {
  requests: number;
  sessionsOpened: number;
  sessionsExpired: number;
  sessionsClosed: number;
  events: number;
}

export class SimZooKeeperServer {
  readonly tree: ZnodeTree;
  readonly stats: SimZkServerStats = {
    requests: 0,
    sessionsOpened: 0,
    sessionsExpired: 0,
    sessionsClosed: 0,
    events: 0,
  };
  private readonly sessions = new Map<string, Session>();
  private readonly byConn = new Map<Connection, Session>();
  private readonly clock: Clock;
  private readonly writeMs: number;
  private readonly log: (message: string) => void;
  private nextSid = FIRST_SESSION_ID;
  private listener: Listener | undefined;
  /** Group commit: the flush in progress ends at flushDoneMs; writes arriving meanwhile join the next. */
  private flushDoneMs = 0;
  private nextFlushDoneMs = 0;
  /** Completion time of the last request queued: nothing completes before it (arrival order). */
  private lastDoneMs = 0;
  private queued = 0;

  private constructor(
    private readonly substrate: Substrate,
    private readonly options: SimZkServerOptions,
  ) {
    this.clock = substrate.clock;
    this.writeMs = options.writeMs ?? SIM_ZK_DEFAULTS.writeMs;
    assert(this.writeMs >= 0 && Number.isFinite(this.writeMs), 'ZooKeeper writeMs must be >= 0');
    this.log = options.log ?? (() => {});
    this.tree = new ZnodeTree(() => this.clock.wallMs());
  }

  static async start(substrate: Substrate, options: SimZkServerOptions): Promise<SimZooKeeperServer> {
    const server = new SimZooKeeperServer(substrate, options);
    server.listener = await substrate.network.listen(options.listen, (conn) => server.accept(conn));
    return server;
  }

  get address(): Address {
    assert(this.listener, 'ZooKeeper server not started');
    return this.listener.address;
  }

  /** Live sessions (not yet expired or closed). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Whether `sid` names a session that has not expired or closed. */
  isLiveSession(sid: string): boolean {
    const s = this.sessions.get(sid);
    return s !== undefined && !s.closing;
  }

  /** Session ids of live sessions whose last connection came from `host`. */
  sessionsOf(host: string): string[] {
    return [...this.sessions.values()].filter((s) => s.host === host && !s.closing).map((s) => s.sid);
  }

  /** Expires every live session of `host` now, as the server does when it stops hearing from one. */
  expireSessionsOf(host: string): number {
    const ids = this.sessionsOf(host);
    for (const sid of ids) this.end(this.sessions.get(sid)!, 'expired');
    return ids.length;
  }

  private accept(conn: Connection): void {
    conn.onFrame((frame) => this.onFrame(conn, frame));
    conn.onClose(() => {
      const s = this.byConn.get(conn);
      this.byConn.delete(conn);
      if (s && s.conn === conn) {
        s.conn = null;
        // Watches belong to the connection; the client sends them again when it resumes.
        this.tree.dropWatches(s.sid);
      }
    });
  }

  private onFrame(conn: Connection, frame: Uint8Array): void {
    // A malformed frame throws: the network closes the connection, as a real server would.
    const { message, blobs } = decodeFrame<ClientMessage>(frame);
    if (message.t === 'hello') {
      this.hello(conn, message);
      return;
    }
    const s = this.byConn.get(conn);
    if (!s || s.conn !== conn || s.closing) {
      // A request on a connection with no live session: the client learns on its next hello.
      conn.close();
      return;
    }
    s.lastHeardMs = this.clock.nowMs();
    switch (message.t) {
      case 'ping':
        send(conn, { t: 'pong' });
        return;
      case 'req':
        if (message.xid <= s.lastXid) return;
        s.lastXid = message.xid;
        this.request(s, conn, message.xid, message.ops, message.multi, blobs);
        return;
      case 'close':
        if (message.xid <= s.lastXid) return;
        s.lastXid = message.xid;
        this.end(s, 'closed', () => send(conn, { t: 'res', xid: message.xid, zxid: this.tree.zxid }));
        return;
    }
  }

  private hello(conn: Connection, hello: Extract<ClientMessage, { t: 'hello' }>): void {
    const { sid, timeoutMs: requestedMs } = hello;
    const now = this.clock.nowMs();
    const min = this.options.minSessionTimeoutMs ?? SIM_ZK_DEFAULTS.minSessionTimeoutMs;
    const max = this.options.maxSessionTimeoutMs ?? SIM_ZK_DEFAULTS.maxSessionTimeoutMs;
    let s: Session | undefined;
    if (sid === null) {
      assert(this.sessions.size < MAX_SIM_ZK_SESSIONS, `more than ${MAX_SIM_ZK_SESSIONS} ZooKeeper sessions`);
      const timeoutMs = Math.min(max, Math.max(min, requestedMs));
      const newSid = (this.nextSid++).toString(16).padStart(16, '0');
      assert(newSid !== NO_SESSION, 'session id collides with NO_SESSION');
      s = {
        sid: newSid,
        timeoutMs,
        lastHeardMs: now,
        conn: null,
        host: conn.remoteAddress.host,
        ephemerals: new Set(),
        timer: this.clock.setTimer(timeoutMs, () => this.checkExpiry(s!)),
        lastXid: 0,
        closing: false,
        gone: false,
      };
      this.sessions.set(newSid, s);
      this.stats.sessionsOpened++;
    } else {
      s = this.sessions.get(sid);
      if (!s || s.closing) {
        send(conn, { t: 'expired' });
        conn.close();
        return;
      }
    }
    if (s.conn && s.conn !== conn) {
      // The session moved to a new connection: the old one is finished.
      this.byConn.delete(s.conn);
      s.conn.close();
    }
    s.conn = conn;
    s.host = conn.remoteAddress.host;
    s.lastHeardMs = now;
    this.byConn.set(conn, s);
    send(conn, { t: 'welcome', sid: s.sid, timeoutMs: s.timeoutMs });
    if (sid !== null) this.rearm(s, hello.lastZxid, hello.watches);
  }

  /** SetWatches: a watch whose znode changed after `lastZxid` fires now; the others are set again. */
  private rearm(s: Session, lastZxid: number, watches: WatchSet | undefined): void {
    this.tree.dropWatches(s.sid);
    if (!watches) return;
    const fired: FiredWatch[] = [];
    const fire = (type: ZkEventType, path: string): void => {
      fired.push({ sid: s.sid, type, path });
    };
    for (const path of watches.data) {
      const c = this.tree.changes(path);
      if (!c) fire('deleted', path);
      else if (c.mzxid > lastZxid) fire('data-changed', path);
      else this.tree.watch(s.sid, 'data', path);
    }
    for (const path of watches.exist) {
      if (this.tree.changes(path)) fire('created', path);
      else this.tree.watch(s.sid, 'data', path);
    }
    for (const path of watches.child) {
      const c = this.tree.changes(path);
      if (!c) fire('deleted', path);
      else if (c.pzxid > lastZxid) fire('children-changed', path);
      else this.tree.watch(s.sid, 'child', path);
    }
    this.fire(fired);
  }

  private checkExpiry(s: Session): void {
    if (s.closing) return;
    const quietMs = this.clock.nowMs() - s.lastHeardMs;
    if (quietMs + TIME_EPSILON_MS >= s.timeoutMs) {
      this.log(`zookeeper: session ${s.sid} of ${s.host} expired after ${Math.round(quietMs)} ms of silence`);
      this.end(s, 'expired');
      return;
    }
    s.timer = this.clock.setTimer(s.timeoutMs - quietMs, () => this.checkExpiry(s));
  }

  /** Ends a session (expiry or close): a transaction, committed in order, removing its ephemerals. */
  private end(s: Session, why: 'expired' | 'closed', after?: () => void): void {
    if (s.closing) return;
    s.closing = true;
    s.timer.cancel();
    this.stats[why === 'expired' ? 'sessionsExpired' : 'sessionsClosed']++;
    this.schedule(true, () => {
      s.gone = true;
      this.sessions.delete(s.sid);
      for (const path of [...s.ephemerals].sort().reverse()) {
        try {
          this.fire(this.tree.apply(s.sid, [{ op: 'delete', path, version: -1 }]).fired);
        } catch (err) {
          // Already gone (deleted by its owner in the same commit): nothing to remove.
          if (!(err instanceof TreeError && err.code === 'NO_NODE')) throw err;
        }
      }
      s.ephemerals.clear();
      this.tree.dropWatches(s.sid);
      after?.();
      if (s.conn) {
        this.byConn.delete(s.conn);
        s.conn.close();
        s.conn = null;
      }
    });
  }

  private request(
    s: Session,
    conn: Connection,
    xid: number,
    ops: readonly WireOp[],
    multi: boolean,
    blobs: readonly Uint8Array[],
  ): void {
    this.stats.requests++;
    const write = ops.some((o) => o.op === 'create' || o.op === 'delete' || o.op === 'set');
    this.schedule(write, () => {
      if (s.gone) return;
      const answer = this.execute(s, xid, ops, multi, blobs);
      send(conn, answer, ...this.dataOf(ops));
    });
  }

  /** Znode data a read returns travels as a blob; computed at the same instant as the answer. */
  private dataOf(ops: readonly WireOp[]): Uint8Array[] {
    const o = ops[0];
    if (ops.length !== 1 || !o || o.op !== 'getData' || !this.tree.has(o.path)) return [];
    return [this.tree.data(o.path)];
  }

  private execute(
    s: Session,
    xid: number,
    ops: readonly WireOp[],
    multi: boolean,
    blobs: readonly Uint8Array[],
  ): ServerMessage {
    try {
      const first = ops[0];
      assert(first !== undefined, 'a ZooKeeper request with no operation');
      if (!multi) {
        switch (first.op) {
          case 'exists': {
            const stat = this.tree.stat(first.path);
            if (first.watch) this.tree.watch(s.sid, 'data', first.path);
            return { t: 'res', xid, zxid: this.tree.zxid, stat };
          }
          case 'getData': {
            const stat = this.tree.stat(first.path);
            if (!stat) throw new TreeError('NO_NODE', first.path, `getData ${first.path}: the znode does not exist`);
            if (first.watch) this.tree.watch(s.sid, 'data', first.path);
            return { t: 'res', xid, zxid: this.tree.zxid, stat, blob: 0 };
          }
          case 'getChildren': {
            const children = this.tree.children(first.path);
            if (first.watch) this.tree.watch(s.sid, 'child', first.path);
            return { t: 'res', xid, zxid: this.tree.zxid, children };
          }
          default:
            break;
        }
      }
      const treeOps = ops.map((o) => toTreeOp(o, blobs));
      // Owners of ephemeral znodes this request deletes, looked up before they are gone.
      const owners = treeOps.map((o) => (o.op === 'delete' ? this.tree.stat(o.path)?.ephemeralOwner : undefined));
      const { results, fired } = this.tree.apply(s.sid, treeOps);
      treeOps.forEach((o, i) => {
        const r = results[i]!;
        if (o.op === 'create' && o.mode.startsWith('ephemeral') && 'path' in r) s.ephemerals.add(r.path);
        const owner = owners[i];
        if (owner !== undefined && owner !== NO_SESSION) this.sessions.get(owner)?.ephemerals.delete(o.path);
      });
      this.fire(fired);
      const r = results[0]!;
      return {
        t: 'res',
        xid,
        zxid: this.tree.zxid,
        ...('path' in r && !multi ? { path: r.path } : {}),
        ...('stat' in r && !multi ? { stat: r.stat } : {}),
      };
    } catch (err) {
      if (!(err instanceof TreeError)) throw err;
      return { t: 'res', xid, zxid: this.tree.zxid, err: err.code, message: err.message, path: err.path };
    }
  }

  private fire(fired: readonly FiredWatch[]): void {
    for (const f of fired) {
      const s = this.sessions.get(f.sid);
      if (!s || s.closing) continue;
      this.stats.events++;
      // Without a connection the watch is gone too (dropped with it); the client re-arms it.
      if (s.conn) send(s.conn, { t: 'event', type: f.type, path: f.path, zxid: this.tree.zxid });
    }
  }

  /**
   * Runs `fn` when a request arriving now completes: writes at the end of the group commit they
   * join, reads at once — but never before a request that arrived earlier.
   */
  private schedule(write: boolean, fn: () => void): void {
    assert(this.queued < MAX_QUEUED_REQUESTS, `more than ${MAX_QUEUED_REQUESTS} ZooKeeper requests queued`);
    const now = this.clock.nowMs();
    let doneMs = now;
    if (write && this.writeMs > 0) {
      while (this.nextFlushDoneMs > 0 && now >= this.flushDoneMs) {
        this.flushDoneMs = this.nextFlushDoneMs;
        this.nextFlushDoneMs = 0;
      }
      if (now >= this.flushDoneMs) {
        this.flushDoneMs = now + this.writeMs;
        doneMs = this.flushDoneMs;
      } else {
        if (this.nextFlushDoneMs === 0) this.nextFlushDoneMs = this.flushDoneMs + this.writeMs;
        doneMs = this.nextFlushDoneMs;
      }
    }
    doneMs = Math.max(doneMs, this.lastDoneMs);
    this.lastDoneMs = doneMs;
    this.queued++;
    this.clock.setTimer(doneMs - now, () => {
      this.queued--;
      fn();
    });
  }
}

function send(conn: Connection, message: ServerMessage, ...blobs: Uint8Array[]): boolean {
  return conn.send(encodeFrame(message, blobs));
}

function toTreeOp(o: WireOp, blobs: readonly Uint8Array[]): TreeOp {
  const data = o.blob === undefined ? new Uint8Array(0) : (blobs[o.blob] ?? new Uint8Array(0));
  switch (o.op) {
    case 'create':
      return { op: 'create', path: o.path, data, mode: o.mode ?? 'persistent' };
    case 'delete':
      return { op: 'delete', path: o.path, version: o.version ?? -1 };
    case 'check':
      return { op: 'check', path: o.path, version: o.version ?? -1 };
    case 'set':
      return { op: 'set', path: o.path, data, version: o.version ?? -1 };
    default:
      throw new TreeError('OTHER', o.path, `${o.op} cannot be part of a multi`);
  }
}
