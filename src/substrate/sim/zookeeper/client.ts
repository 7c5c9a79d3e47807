// The simulated ZooKeeper client: a ZkSession over a node's simulated network and clock, talking to
// SimZooKeeperServer. It behaves as Java's client (and rollcall's adapter over node-zookeeper-client)
// does where coordination code can tell:
// - a session survives connection loss; the client pings every third of the session timeout,
//   declares a connection dead after two thirds of it without a word (so it notices before the
//   server expires the session), and reconnects with the same session id;
// - requests made while disconnected wait for the next connection; requests in flight when a
//   connection dies fail with CONNECTION_LOSS; each attempt is bounded, retries are bounded;
// - when the server says the session expired, pending requests fail, watches are gone, owners
//   are told (state 'expired'), and a new session is opened (generation + 1);
// - watches are one-shot, per watcher function, and fire by ZooKeeper's rules.
import type { Address, Clock, Connection, Substrate, TimerHandle } from '../../types.js';
import {
  ZK_SESSION_DEFAULTS,
  ZkError,
  ZkSessionBase,
  ZkStartupError,
  checkZnodeSize,
  isZkError,
  NO_SESSION,
  type ZkConnectionSpec,
  type ZkConnector,
  type ZkCreateMode,
  type ZkEvent,
  type ZkOp,
  type ZkSessionOptions,
  type ZkStat,
  type ZkWatcher,
} from '../../zookeeper.js';
import { assert } from '../../../util/assert.js';
import {
  decodeFrame,
  encodeFrame,
  type ClientMessage,
  type ServerMessage,
  type WatchSet,
  type WireOp,
} from './wire.js';

/** Bound on requests waiting for a connection or an answer. */
const MAX_PENDING_REQUESTS = 100_000;
/** The pause before reconnecting is random below this (Java's client sleeps up to 1 s). */
const RECONNECT_SPREAD_MS = 200;
/** How long close() waits for the server to confirm the session's end. */
const CLOSE_WAIT_MS = 2_000;
/**
 * Slack when comparing a timer's firing time with the deadline it was set for: (a + b) - a can
 * come out a hair below b in floating point, and re-arming for that hair would loop at one instant.
 */
const TIME_EPSILON_MS = 1e-6;

type WatchKind = 'data' | 'exist' | 'child';
type Answer = { message: Extract<ServerMessage, { t: 'res' }>; blobs: Uint8Array[] };

interface Pending {
  ops: WireOp[];
  multi: boolean;
  blobs: Uint8Array[];
  what: string;
  /** Chroot-relative path named in errors. */
  path: string;
  watch?: { kind: 'data' | 'child'; path: string; watcher: ZkWatcher };
  settle: (answer: Answer | ZkError) => void;
}

export class SimZkSession extends ZkSessionBase {
  readonly clock: Clock;
  private sid: string | null = null;
  protected negotiatedTimeoutMs: number;
  private readonly requestedTimeoutMs: number;
  private conn: Connection | undefined;
  /** The current connection's handshake is done. */
  private welcomed = false;
  private connecting = false;
  private nextXid = 1;
  /** The last transaction seen: where a resumed session's watches pick up. */
  private lastZxid = 0;
  private readonly inflight = new Map<number, Pending>();
  private queue: Pending[] = [];
  private lastRecvMs = 0;
  private lastSentMs = 0;
  private lastDropMs = Number.NEGATIVE_INFINITY;
  private readTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private serverIndex = 0;
  private readonly watches: Record<WatchKind, Map<string, Set<ZkWatcher>>> = {
    data: new Map(),
    exist: new Map(),
    child: new Map(),
  };
  private onWelcome: (() => void) | undefined;
  private closeAnswered: (() => void) | undefined;
  private closeXid = -1;
  protected readonly log: (message: string) => void;
  protected readonly owner: string;

  private constructor(
    private readonly substrate: Substrate,
    readonly spec: ZkConnectionSpec,
    private readonly options: ZkSessionOptions,
  ) {
    super();
    assert(spec.servers.length > 0, 'a ZooKeeper connection spec without servers');
    this.clock = substrate.clock;
    this.log = options.log ?? (() => {});
    this.owner = options.owner ?? 'rollcall';
    this.requestedTimeoutMs = options.sessionTimeoutMs ?? spec.sessionTimeoutMs ?? ZK_SESSION_DEFAULTS.sessionTimeoutMs;
    this.negotiatedTimeoutMs = this.requestedTimeoutMs;
  }

  /** Connects (bounded by connectTimeoutMs) and makes sure the chroot exists. */
  static async open(
    substrate: Substrate,
    spec: ZkConnectionSpec,
    options: ZkSessionOptions = {},
  ): Promise<SimZkSession> {
    const session = new SimZkSession(substrate, spec, options);
    await session.connectFirst();
    try {
      let current = '';
      for (const segment of spec.chroot.split('/').filter((s) => s.length > 0)) {
        current += `/${segment}`;
        try {
          await session.request('create', current, [{ op: 'create', path: current, mode: 'persistent' }], false, []);
        } catch (err) {
          if (!isZkError(err, 'NODE_EXISTS')) throw err;
        }
      }
    } catch (err) {
      session.crash();
      throw err;
    }
    return session;
  }

  get sessionId(): string {
    return this.sid ?? NO_SESSION;
  }

  async create(path: string, data?: Uint8Array, mode: ZkCreateMode = 'persistent'): Promise<string> {
    checkZnodeSize(path, data);
    // One attempt for sequential creates: a retry after a lost answer could leave two znodes.
    const a = await this.request(
      'create',
      path,
      [{ op: 'create', path: this.absolute(path), mode, blob: 0 }],
      false,
      [data ?? new Uint8Array(0)],
      undefined,
      mode.endsWith('sequential') ? 1 : undefined,
    );
    return this.relative(a.message.path ?? this.absolute(path));
  }

  async delete(path: string, version = -1): Promise<void> {
    await this.request('delete', path, [{ op: 'delete', path: this.absolute(path), version }], false, []);
  }

  async exists(path: string, watcher?: ZkWatcher): Promise<ZkStat | null> {
    const abs = this.absolute(path);
    const a = await this.request(
      'exists',
      path,
      [{ op: 'exists', path: abs, watch: watcher !== undefined }],
      false,
      [],
      watcher && { kind: 'data', path: abs, watcher },
    );
    return a.message.stat ?? null;
  }

  async getData(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat }> {
    const abs = this.absolute(path);
    const a = await this.request(
      'getData',
      path,
      [{ op: 'getData', path: abs, watch: watcher !== undefined }],
      false,
      [],
      watcher && { kind: 'data', path: abs, watcher },
    );
    assert(a.message.stat, 'getData answered without a stat');
    return { data: a.blobs[0] ?? new Uint8Array(0), stat: a.message.stat };
  }

  async setData(path: string, data: Uint8Array, version = -1): Promise<ZkStat> {
    checkZnodeSize(path, data);
    const a = await this.request('setData', path, [{ op: 'set', path: this.absolute(path), version, blob: 0 }], false, [
      data,
    ]);
    assert(a.message.stat, 'setData answered without a stat');
    return a.message.stat;
  }

  async getChildren(path: string, watcher?: ZkWatcher): Promise<string[]> {
    const abs = this.absolute(path);
    const a = await this.request(
      'getChildren',
      path,
      [{ op: 'getChildren', path: abs, watch: watcher !== undefined }],
      false,
      [],
      watcher && { kind: 'child', path: abs, watcher },
    );
    return a.message.children ?? [];
  }

  async multi(ops: readonly ZkOp[]): Promise<void> {
    if (ops.length === 0) return;
    const blobs: Uint8Array[] = [];
    const wire: WireOp[] = ops.map((o) => {
      const path = this.absolute(o.path);
      if (o.op === 'create' || o.op === 'set') {
        checkZnodeSize(o.path, o.data);
        blobs.push(o.data ?? new Uint8Array(0));
        const blob = blobs.length - 1;
        return o.op === 'create'
          ? { op: 'create', path, mode: o.mode ?? 'persistent', blob }
          : { op: 'set', path, version: o.version ?? -1, blob };
      }
      return { op: o.op, path, version: o.version ?? -1 };
    });
    await this.request('multi', ops[0]!.path, wire, true, blobs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const conn = this.welcomed ? this.conn : undefined;
    this.shutDown(new ZkError('CLOSED', undefined, `ZooKeeper session of ${this.owner} is closed`));
    if (!conn) return;
    this.closeXid = this.nextXid++;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(CLOSE_WAIT_MS, resolve);
      this.closeAnswered = () => {
        timer.cancel();
        resolve();
      };
      if (!this.sendOn(conn, { t: 'close', xid: this.closeXid })) this.closeAnswered();
    });
    conn.close();
  }

  crash(): void {
    if (this.closed) return;
    const conn = this.conn;
    this.shutDown(new ZkError('CLOSED', undefined, `ZooKeeper session of ${this.owner} was dropped`));
    conn?.close();
  }

  private shutDown(error: ZkError): void {
    this.closed = true;
    this.readTimer?.cancel();
    this.pingTimer?.cancel();
    this.retryTimer?.cancel();
    this.failPending(error);
    this.setState('closed');
  }

  private absolute(path: string): string {
    if (!path.startsWith('/')) throw new ZkError('OTHER', path, `znode path must start with '/': '${path}'`);
    return path === '/' ? this.spec.chroot : `${this.spec.chroot}${path}`;
  }

  private relative(abs: string): string {
    if (abs === this.spec.chroot) return '/';
    return abs.startsWith(`${this.spec.chroot}/`) ? abs.slice(this.spec.chroot.length) : abs;
  }

  private connectFirst(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? ZK_SESSION_DEFAULTS.connectTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.onWelcome = undefined;
        this.crash();
        reject(new ZkStartupError(`cannot reach ZooKeeper at ${this.spec.url} within ${timeoutMs} ms`));
      });
      this.onWelcome = () => {
        timer.cancel();
        resolve();
      };
      this.connect();
    });
  }

  private connect(): void {
    if (this.closed || this.connecting || this.conn) return;
    this.connecting = true;
    const server: Address = this.spec.servers[this.serverIndex++ % this.spec.servers.length]!;
    const timeoutMs = Math.max(1, Math.round(this.negotiatedTimeoutMs / this.spec.servers.length));
    this.substrate.network.connect(server, { timeoutMs }).then(
      (conn) => {
        this.connecting = false;
        if (this.closed) {
          conn.close();
          return;
        }
        this.attach(conn);
      },
      () => {
        this.connecting = false;
        this.reconnectLater();
      },
    );
  }

  private reconnectLater(): void {
    if (this.closed) return;
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimer(this.substrate.random.next() * RECONNECT_SPREAD_MS, () => this.connect());
  }

  private attach(conn: Connection): void {
    this.conn = conn;
    this.welcomed = false;
    conn.onFrame((frame) => this.onFrame(conn, frame));
    conn.onClose(() => this.onConnectionClosed(conn));
    this.lastRecvMs = this.clock.nowMs();
    this.sendOn(conn, {
      t: 'hello',
      sid: this.sid,
      timeoutMs: this.requestedTimeoutMs,
      lastZxid: this.lastZxid,
      ...(this.sid !== null ? { watches: this.heldWatches() } : {}),
    });
    this.armReadTimer(conn);
    this.armPingTimer(conn);
  }

  private get readTimeoutMs(): number {
    return (this.negotiatedTimeoutMs * 2) / 3;
  }

  /** Drops a connection that said nothing for the read timeout: the session goes on on another. */
  private armReadTimer(conn: Connection): void {
    this.readTimer?.cancel();
    const dueMs = this.lastRecvMs + this.readTimeoutMs - this.clock.nowMs();
    this.readTimer = this.clock.setTimer(Math.max(0, dueMs), () => {
      if (this.conn !== conn) return;
      const quietMs = this.clock.nowMs() - this.lastRecvMs;
      if (quietMs + TIME_EPSILON_MS >= this.readTimeoutMs) {
        this.log(
          `${this.owner}: no word from ZooKeeper for ${Math.round(quietMs)} ms; reconnecting (session ${this.sessionId})`,
        );
        this.drop(conn);
        return;
      }
      this.armReadTimer(conn);
    });
  }

  private armPingTimer(conn: Connection): void {
    this.pingTimer?.cancel();
    const everyMs = this.negotiatedTimeoutMs / 3;
    // Due a third of the timeout after the last frame sent; never sooner than that from now while
    // the handshake is pending (nothing is sent then, so the due time would not move).
    const dueMs = this.welcomed ? this.lastSentMs + everyMs - this.clock.nowMs() : everyMs;
    this.pingTimer = this.clock.setTimer(Math.max(0, dueMs), () => {
      if (this.conn !== conn) return;
      if (this.welcomed && this.clock.nowMs() - this.lastSentMs + TIME_EPSILON_MS >= everyMs) {
        this.sendOn(conn, { t: 'ping' });
      }
      this.armPingTimer(conn);
    });
  }

  private drop(conn: Connection): void {
    conn.close();
    this.onConnectionClosed(conn);
  }

  private onConnectionClosed(conn: Connection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    const wasWelcomed = this.welcomed;
    this.welcomed = false;
    this.readTimer?.cancel();
    this.pingTimer?.cancel();
    // Answers to what was sent on it will never come; what waits for a connection keeps waiting.
    for (const [xid, p] of [...this.inflight]) {
      this.inflight.delete(xid);
      p.settle(new ZkError('CONNECTION_LOSS', p.path, `ZooKeeper ${p.what} ${p.path}: connection lost`));
    }
    if (this.closed) return;
    if (wasWelcomed && this.stateValue === 'connected') {
      this.log(`${this.owner}: ZooKeeper connection lost; reconnecting (session ${this.sessionId})`);
      this.setState('disconnected');
    }
    this.reconnectLater();
  }

  private onFrame(conn: Connection, frame: Uint8Array): void {
    if (this.conn !== conn && !this.closed) return;
    const { message, blobs } = decodeFrame<ServerMessage>(frame);
    if (this.closed) {
      if (message.t === 'res' && message.xid === this.closeXid) this.closeAnswered?.();
      return;
    }
    this.lastRecvMs = this.clock.nowMs();
    switch (message.t) {
      case 'welcome':
        this.welcome(message.sid, message.timeoutMs);
        return;
      case 'expired':
        this.expired(conn);
        return;
      case 'pong':
        return;
      case 'res': {
        this.lastZxid = Math.max(this.lastZxid, message.zxid);
        const p = this.inflight.get(message.xid);
        if (!p) return;
        this.inflight.delete(message.xid);
        p.settle({ message, blobs });
        return;
      }
      case 'event':
        this.lastZxid = Math.max(this.lastZxid, message.zxid);
        this.dispatch({ type: message.type, path: message.path });
        return;
    }
  }

  private welcome(sid: string, timeoutMs: number): void {
    const fresh = this.sid !== sid;
    this.sid = sid;
    this.negotiatedTimeoutMs = timeoutMs;
    this.welcomed = true;
    if (fresh) this.generationValue++;
    this.setState('connected');
    const queued = this.queue;
    this.queue = [];
    for (const p of queued) this.send(p);
    const w = this.onWelcome;
    this.onWelcome = undefined;
    w?.();
  }

  private expired(conn: Connection): void {
    this.log(`${this.owner}: ZooKeeper session ${this.sessionId} expired`);
    this.failPending(new ZkError('SESSION_EXPIRED', undefined, `ZooKeeper session of ${this.owner} expired`));
    for (const m of Object.values(this.watches)) m.clear();
    this.sid = null;
    this.setState('expired');
    this.conn = undefined;
    this.welcomed = false;
    this.readTimer?.cancel();
    this.pingTimer?.cancel();
    conn.close();
    if (this.options.renewAfterExpiry === false) return;
    // A new session: owners re-register their ephemeral znodes and watches when it connects.
    this.connect();
  }

  private heldWatches(): WatchSet {
    return {
      data: [...this.watches.data.keys()],
      exist: [...this.watches.exist.keys()],
      child: [...this.watches.child.keys()],
    };
  }

  private dispatch(event: ZkEvent): void {
    const kinds: WatchKind[] =
      event.type === 'children-changed'
        ? ['child']
        : event.type === 'deleted'
          ? ['data', 'exist', 'child']
          : ['data', 'exist'];
    const fire = new Set<ZkWatcher>();
    for (const k of kinds) {
      const set = this.watches[k].get(event.path);
      if (!set) continue;
      this.watches[k].delete(event.path);
      for (const w of set) fire.add(w);
    }
    const relative: ZkEvent = { type: event.type, path: this.relative(event.path) };
    for (const w of fire) {
      try {
        w(relative);
      } catch (err) {
        this.log(`${this.owner}: ZooKeeper watcher failed: ${(err as Error).message}`);
      }
    }
  }

  private request(
    what: string,
    path: string,
    ops: WireOp[],
    multi: boolean,
    blobs: Uint8Array[],
    watch?: Pending['watch'],
    maxAttempts = this.options.maxAttempts ?? ZK_SESSION_DEFAULTS.maxAttempts,
  ): Promise<Answer> {
    return this.retrying(
      what,
      path,
      () => this.attempt({ ops, multi, blobs, what, path, ...(watch ? { watch } : {}) }),
      maxAttempts,
      this.options.retryPauseMs ?? ZK_SESSION_DEFAULTS.retryPauseMs,
    );
  }

  private attempt(req: Omit<Pending, 'settle'>): Promise<Answer> {
    if (this.closed) {
      return Promise.reject(
        new ZkError('CLOSED', req.path, `ZooKeeper session of ${this.owner} is closed (${req.what} ${req.path})`),
      );
    }
    if (this.stateValue === 'expired') {
      // As with the real client: until the next session connects, the old one's requests fail.
      return Promise.reject(
        new ZkError(
          'SESSION_EXPIRED',
          req.path,
          `ZooKeeper session of ${this.owner} expired (${req.what} ${req.path})`,
        ),
      );
    }
    assert(
      this.inflight.size + this.queue.length < MAX_PENDING_REQUESTS,
      `more than ${MAX_PENDING_REQUESTS} ZooKeeper requests pending`,
    );
    const timeoutMs = this.options.attemptTimeoutMs ?? Math.round(this.readTimeoutMs);
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const p: Pending = {
        ...req,
        settle: (answer) => {
          if (settled) return;
          settled = true;
          timer.cancel();
          if (answer instanceof ZkError) {
            reject(answer);
            return;
          }
          const m = answer.message;
          if (m.err) {
            reject(new ZkError(m.err, req.path, `ZooKeeper ${req.what} ${req.path}: ${m.message ?? m.err}`));
            return;
          }
          if (req.watch) this.addWatch(req.watch, m);
          resolve(answer);
        },
      };
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.forget(p);
        p.settle(
          new ZkError(
            'OPERATION_TIMEOUT',
            req.path,
            `ZooKeeper ${req.what} ${req.path}: no answer within ${timeoutMs} ms`,
          ),
        );
        this.dropForSilence(`${req.what} ${req.path} had no answer within ${timeoutMs} ms`);
      });
      if (this.welcomed && this.conn) this.send(p);
      else this.queue.push(p);
    });
  }

  private addWatch(watch: NonNullable<Pending['watch']>, m: Answer['message']): void {
    // exists() on a missing znode watches for its creation; otherwise for its change or deletion.
    const kind: WatchKind = watch.kind === 'child' ? 'child' : m.stat ? 'data' : 'exist';
    let set = this.watches[kind].get(watch.path);
    if (!set) this.watches[kind].set(watch.path, (set = new Set()));
    set.add(watch.watcher);
  }

  private send(p: Pending): void {
    const conn = this.conn;
    assert(conn && this.welcomed, 'sending a ZooKeeper request without a connection');
    const xid = this.nextXid++;
    this.inflight.set(xid, p);
    this.sendOn(conn, { t: 'req', xid, ops: p.ops, multi: p.multi }, p.blobs);
  }

  private sendOn(conn: Connection, message: ClientMessage, blobs: Uint8Array[] = []): boolean {
    this.lastSentMs = this.clock.nowMs();
    return conn.send(encodeFrame(message, blobs));
  }

  private forget(p: Pending): void {
    for (const [xid, q] of this.inflight) {
      if (q === p) {
        this.inflight.delete(xid);
        return;
      }
    }
    const i = this.queue.indexOf(p);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Drops a connection that does not answer; at most once per half session timeout. */
  private dropForSilence(why: string): void {
    const conn = this.conn;
    if (this.closed || !conn || this.stateValue === 'expired') return;
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastDropMs < this.negotiatedTimeoutMs / 2) return;
    this.lastDropMs = nowMs;
    this.log(`${this.owner}: ${why}; dropping the connection to reconnect (session ${this.sessionId})`);
    this.drop(conn);
  }

  private failPending(error: ZkError): void {
    const all = [...this.inflight.values(), ...this.queue];
    this.inflight.clear();
    this.queue = [];
    for (const p of all) p.settle(error);
  }
}

/** Opens simulated sessions: each node's session runs on that node's simulated substrate. */
export const simZkConnector: ZkConnector = (spec, options, substrate) => SimZkSession.open(substrate, spec, options);
