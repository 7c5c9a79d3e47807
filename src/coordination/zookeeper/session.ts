// A small promise-based adapter over node-zookeeper-client: the only module that touches the
// client. It adds what the barrier transport needs and the client leaves to its user:
// - every request is bounded: an attempt timeout (the client queues requests while disconnected
//   and would otherwise keep a caller waiting forever), a bounded number of attempts on connection
//   loss, a pause that grows between them;
// - a session that expires is replaced by a new one (a new client), and owners are told through
//   state changes with a generation number, so they can re-register ephemeral znodes and re-arm
//   watches, which do not survive an expiry;
// - paths are relative to the chroot of the --coordination URL, which is created when missing
//   (the client's own chroot support requires it to exist);
// - crash() drops the TCP connection without closing the session, as a killed process does, so
//   tests can watch a session expire on the server;
// - a connection that stops answering is dropped and made again. The client never times out a
//   silent connection (Java's client does, after 2/3 of the session timeout): a half-open TCP
//   connection, or one stuck mid-handshake after a server restart, would otherwise hold every
//   request of the session until its attempts ran out. It also keeps a partly received packet
//   across reconnects, which would corrupt the next connection's first answer; that is cleared.
import { Buffer } from 'node:buffer';
import zookeeper from 'node-zookeeper-client';
import type { Client, ClientEvent, Stat, Transaction, ZkException } from 'node-zookeeper-client';
import { RealClock } from '../../substrate/real/clock.js';
import type { Clock } from '../../substrate/types.js';
import {
  NO_SESSION,
  ZK_SESSION_DEFAULTS,
  ZkError,
  ZkSessionBase,
  isZkError,
  ZkStartupError,
  checkZnodeSize,
  type ZkConnectionSpec,
  type ZkConnector,
  type ZkCreateMode,
  type ZkErrorCode,
  type ZkEventType,
  type ZkOp,
  type ZkSessionOptions,
  type ZkStat,
  type ZkWatcher,
} from '../../substrate/zookeeper.js';
import { clientConnectionString } from './connection.js';

const CODE_NAMES = new Map<number, ZkErrorCode>([
  [zookeeper.Exception.NO_NODE, 'NO_NODE'],
  [zookeeper.Exception.NODE_EXISTS, 'NODE_EXISTS'],
  [zookeeper.Exception.NOT_EMPTY, 'NOT_EMPTY'],
  [zookeeper.Exception.BAD_VERSION, 'BAD_VERSION'],
  [zookeeper.Exception.NO_CHILDREN_FOR_EPHEMERALS, 'NO_CHILDREN_FOR_EPHEMERALS'],
  [zookeeper.Exception.CONNECTION_LOSS, 'CONNECTION_LOSS'],
  [zookeeper.Exception.SESSION_EXPIRED, 'SESSION_EXPIRED'],
  [zookeeper.Exception.OPERATION_TIMEOUT, 'OPERATION_TIMEOUT'],
]);

const MODES: Record<ZkCreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  'persistent-sequential': zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
  'ephemeral-sequential': zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

const EVENT_TYPES = new Map<number, ZkEventType>([
  [zookeeper.Event.NODE_CREATED, 'created'],
  [zookeeper.Event.NODE_DELETED, 'deleted'],
  [zookeeper.Event.NODE_DATA_CHANGED, 'data-changed'],
  [zookeeper.Event.NODE_CHILDREN_CHANGED, 'children-changed'],
]);

/** How long close() waits for the server to confirm the session's end before dropping the socket. */
const CLOSE_WAIT_MS = 2_000;

interface Pending {
  generation: number;
  fail: (error: ZkError) => void;
}

/** The client's connection manager, reached only by crashClient, dropConnection and newClient. */
interface ConnectionInternals {
  connectionManager?: {
    state: number;
    socket?: { destroy(): void };
    /** Bytes of a packet not yet complete. */
    pendingBuffer: Buffer | null;
    on(event: 'state', listener: (state: number) => void): void;
  };
}
const CONNECTION_MANAGER_CLOSING = -1;
const CONNECTION_MANAGER_DISCONNECTED = 0;

/** The real client's session (node-zookeeper-client). */
export class NodeZkSession extends ZkSessionBase {
  readonly clock: Clock = new RealClock();
  private client: Client | undefined;
  protected negotiatedTimeoutMs: number;
  private readonly requestedTimeoutMs: number;
  private readonly pending = new Set<Pending>();
  /** Client-side wrappers of user watchers: the client de-duplicates watches by function identity. */
  private readonly wrappers = new WeakMap<ZkWatcher, (e: ClientEvent) => void>();
  /** When the connection was last dropped for not answering; bounds how often that happens. */
  private lastDropMs = Number.NEGATIVE_INFINITY;
  protected readonly log: (message: string) => void;
  protected readonly owner: string;

  private constructor(
    readonly spec: ZkConnectionSpec,
    private readonly options: ZkSessionOptions,
  ) {
    super();
    this.log = options.log ?? (() => {});
    this.owner = options.owner ?? 'rollcall';
    this.requestedTimeoutMs = options.sessionTimeoutMs ?? spec.sessionTimeoutMs ?? ZK_SESSION_DEFAULTS.sessionTimeoutMs;
    this.negotiatedTimeoutMs = this.requestedTimeoutMs;
  }

  /** Connects (bounded by connectTimeoutMs) and makes sure the chroot exists. */
  static async open(spec: ZkConnectionSpec, options: ZkSessionOptions = {}): Promise<NodeZkSession> {
    const session = new NodeZkSession(spec, options);
    await session.connectFirst();
    try {
      await session.mkdirpAbsolute(spec.chroot);
    } catch (err) {
      session.crash();
      throw err;
    }
    return session;
  }

  get sessionId(): string {
    return this.client?.getSessionId().toString('hex') ?? NO_SESSION;
  }

  /** Creates a znode; returns its path (with the sequence number for sequential modes). */
  async create(path: string, data?: Uint8Array, mode: ZkCreateMode = 'persistent'): Promise<string> {
    checkZnodeSize(path, data);
    const sequential = mode.endsWith('sequential');
    // A sequential create retried after a lost answer could leave two znodes; its caller deals
    // with that (see election.ts), so it gets exactly one attempt.
    const created = await this.request<string>(
      'create',
      path,
      (client, abs, done) => client.create(abs, toBuffer(data), MODES[mode], (e, p) => done(e, p)),
      sequential ? 1 : undefined,
    );
    return this.relative(created);
  }

  async delete(path: string, version = -1): Promise<void> {
    await this.request<void>('delete', path, (client, abs, done) => client.remove(abs, version, (e) => done(e)));
  }

  /** Stat of the znode or null; a watcher fires on its creation, change or deletion. */
  async exists(path: string, watcher?: ZkWatcher): Promise<ZkStat | null> {
    const w = watcher && this.wrap(watcher);
    const stat = await this.request<Stat | null>('exists', path, (client, abs, done) =>
      w ? client.exists(abs, w, (e, s) => done(e, s)) : client.exists(abs, (e, s) => done(e, s)),
    );
    return stat ? convertStat(stat) : null;
  }

  /** Data and stat; throws ZkError NO_NODE when missing. A watcher fires on change or deletion. */
  async getData(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat }> {
    const w = watcher && this.wrap(watcher);
    const [data, stat] = await this.request<[Buffer, Stat]>('getData', path, (client, abs, done) =>
      w ? client.getData(abs, w, (e, d, s) => done(e, [d, s])) : client.getData(abs, (e, d, s) => done(e, [d, s])),
    );
    return { data: data ? new Uint8Array(data) : new Uint8Array(0), stat: convertStat(stat) };
  }

  async setData(path: string, data: Uint8Array, version = -1): Promise<ZkStat> {
    checkZnodeSize(path, data);
    const stat = await this.request<Stat>('setData', path, (client, abs, done) =>
      client.setData(abs, toBuffer(data) ?? null, version, (e, s) => done(e, s)),
    );
    return convertStat(stat);
  }

  /** Child names (not paths); throws NO_NODE when missing. A watcher fires on a child change or deletion. */
  async getChildren(path: string, watcher?: ZkWatcher): Promise<string[]> {
    const w = watcher && this.wrap(watcher);
    return this.request<string[]>('getChildren', path, (client, abs, done) =>
      w ? client.getChildren(abs, w, (e, c) => done(e, c)) : client.getChildren(abs, (e, c) => done(e, c)),
    );
  }

  /** Runs the operations atomically (ZooKeeper's multi); throws the first failing op's error. */
  async multi(ops: readonly ZkOp[]): Promise<void> {
    if (ops.length === 0) return;
    for (const o of ops) if (o.op === 'create' || o.op === 'set') checkZnodeSize(o.path, o.data);
    await this.request<void>('multi', ops[0]!.path, (client, _abs, done) => {
      let tx: Transaction = client.transaction();
      for (const o of ops) {
        const abs = this.absolute(o.path);
        if (o.op === 'create') tx = tx.create(abs, toBuffer(o.data), MODES[o.mode ?? 'persistent']);
        else if (o.op === 'delete') tx = tx.remove(abs, o.version ?? -1);
        else if (o.op === 'check') tx = tx.check(abs, o.version ?? -1);
        else tx = tx.setData(abs, toBuffer(o.data) ?? null, o.version ?? -1);
      }
      tx.commit((e) => done(e));
    });
  }

  override async mkdirp(path: string): Promise<void> {
    await this.mkdirpAbsolute(this.absolute(path));
  }

  /** Ends the session: the server removes its ephemeral znodes at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const client = this.client;
    this.failPending(new ZkError('CLOSED', undefined, `ZooKeeper session of ${this.owner} is closed`));
    this.setState('closed');
    if (!client) return;
    detach(client);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        crashClient(client);
        resolve();
      }, CLOSE_WAIT_MS);
      timer.unref();
      client.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.close();
    });
  }

  /**
   * Drops the connection without ending the session, as a killed process does: the server keeps
   * the session (and its ephemeral znodes) until the session timeout passes. For tests and for
   * simulating a crash in an in-process cluster; the session is unusable afterwards.
   */
  crash(): void {
    if (this.closed) return;
    this.closed = true;
    const client = this.client;
    this.failPending(new ZkError('CLOSED', undefined, `ZooKeeper session of ${this.owner} was dropped`));
    this.setState('closed');
    if (client) {
      detach(client);
      crashClient(client);
    }
  }

  /** Absolute server path of a chroot-relative path. */
  absolute(path: string): string {
    if (!path.startsWith('/')) throw new ZkError('OTHER', path, `znode path must start with '/': '${path}'`);
    return path === '/' ? this.spec.chroot : `${this.spec.chroot}${path}`;
  }

  private relative(abs: string): string {
    if (abs === this.spec.chroot) return '/';
    return abs.startsWith(`${this.spec.chroot}/`) ? abs.slice(this.spec.chroot.length) : abs;
  }

  private async connectFirst(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? ZK_SESSION_DEFAULTS.connectTimeoutMs;
    const client = this.newClient();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        detach(client);
        crashClient(client);
        this.closed = true;
        reject(
          new ZkStartupError(
            `cannot reach ZooKeeper at ${this.spec.url} within ${timeoutMs} ms (is the server running? try: npm run zk:start)`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
  }

  /** A client wired to this session's state machine; becomes the current client. */
  private newClient(): Client {
    const client = zookeeper.createClient(clientConnectionString(this.spec), {
      sessionTimeout: this.requestedTimeoutMs,
      // The pause between reconnect rounds; the client picks a random delay below it.
      spinDelay: 200,
      retries: 0,
    });
    this.client = client;
    const cm = (client as unknown as ConnectionInternals).connectionManager;
    // A socket that closed mid-packet leaves its bytes behind; they belong to no later connection.
    cm?.on('state', (state) => {
      if (state === CONNECTION_MANAGER_DISCONNECTED) cm.pendingBuffer = null;
    });
    client.on('connected', () => {
      if (this.client !== client || this.closed) return;
      const fresh = this.stateValue === 'connecting' || this.stateValue === 'expired';
      if (fresh) this.generationValue++;
      this.negotiatedTimeoutMs = client.getSessionTimeout();
      this.setState('connected');
    });
    client.on('disconnected', () => {
      if (this.client !== client || this.closed || this.stateValue !== 'connected') return;
      this.log(`${this.owner}: ZooKeeper connection lost; reconnecting (session ${this.sessionId})`);
      this.setState('disconnected');
    });
    client.on('expired', () => {
      if (this.client !== client || this.closed) return;
      this.onExpired(client);
    });
    client.on('authenticationFailed', () => {
      if (this.client !== client || this.closed) return;
      this.log(`${this.owner}: ZooKeeper authentication failed`);
    });
    return client;
  }

  private onExpired(client: Client): void {
    const generation = this.generationValue;
    this.log(`${this.owner}: ZooKeeper session ${client.getSessionId().toString('hex')} expired`);
    this.failPending(
      new ZkError('SESSION_EXPIRED', undefined, `ZooKeeper session of ${this.owner} expired`),
      generation,
    );
    this.setState('expired');
    // The client is finished with an expired session; a close request would go nowhere.
    detach(client);
    crashClient(client);
    if (this.options.renewAfterExpiry === false || this.closed) return;
    // A new session: owners re-register their ephemeral znodes and watches when it connects.
    const next = this.newClient();
    next.connect();
  }

  /**
   * Drops a connection that does not answer, keeping the session: the client reconnects with the
   * same session id (as Java's client does after its read timeout), and retried requests go out
   * on the new connection. At most once per half session timeout, however many requests wait.
   */
  private dropConnection(client: Client, why: string): void {
    if (this.closed || this.client !== client || this.stateValue === 'expired') return;
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastDropMs < this.negotiatedTimeoutMs / 2) return;
    const cm = (client as unknown as ConnectionInternals).connectionManager;
    if (!cm || cm.state === CONNECTION_MANAGER_CLOSING) return;
    this.lastDropMs = nowMs;
    this.log(`${this.owner}: ${why}; dropping the connection to reconnect (session ${this.sessionId})`);
    cm.socket?.destroy();
    cm.pendingBuffer = null;
  }

  private failPending(error: ZkError, generation?: number): void {
    for (const p of [...this.pending]) {
      if (generation === undefined || p.generation === generation) p.fail(error);
    }
  }

  private wrap(watcher: ZkWatcher): (e: ClientEvent) => void {
    let w = this.wrappers.get(watcher);
    if (!w) {
      w = (e: ClientEvent) => {
        const type = EVENT_TYPES.get(e.getType());
        if (!type || this.closed) return;
        watcher({ type, path: this.relative(e.getPath()) });
      };
      this.wrappers.set(watcher, w);
    }
    return w;
  }

  /** Runs one client call with the attempt timeout and bounded retries on connection loss. */
  private async request<T>(
    what: string,
    path: string,
    call: (client: Client, abs: string, done: (e: ZkException | null | undefined, r?: T) => void) => void,
    maxAttempts = this.options.maxAttempts ?? ZK_SESSION_DEFAULTS.maxAttempts,
  ): Promise<T> {
    return this.requestAbsolute(what, path, this.absolute(path), call, maxAttempts);
  }

  private requestAbsolute<T>(
    what: string,
    path: string,
    abs: string,
    call: (client: Client, abs: string, done: (e: ZkException | null | undefined, r?: T) => void) => void,
    maxAttempts = this.options.maxAttempts ?? ZK_SESSION_DEFAULTS.maxAttempts,
  ): Promise<T> {
    return this.retrying(
      what,
      path,
      () => this.attempt(what, path, abs, call),
      maxAttempts,
      this.options.retryPauseMs ?? ZK_SESSION_DEFAULTS.retryPauseMs,
    );
  }

  private attempt<T>(
    what: string,
    path: string,
    abs: string,
    call: (client: Client, abs: string, done: (e: ZkException | null | undefined, r?: T) => void) => void,
  ): Promise<T> {
    const client = this.client;
    if (this.closed || !client) {
      return Promise.reject(
        new ZkError('CLOSED', path, `ZooKeeper session of ${this.owner} is closed (${what} ${path})`),
      );
    }
    if (this.stateValue === 'expired') {
      // Requests of an expired session would wait in the old client forever.
      return Promise.reject(
        new ZkError('SESSION_EXPIRED', path, `ZooKeeper session of ${this.owner} expired (${what} ${path})`),
      );
    }
    const timeoutMs = this.options.attemptTimeoutMs ?? Math.round((this.negotiatedTimeoutMs * 2) / 3);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Pending = {
        generation: this.generationValue,
        fail: (error) => settle(() => reject(error)),
      };
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(entry);
        fn();
      };
      const timer = setTimeout(() => {
        settle(() =>
          reject(new ZkError('OPERATION_TIMEOUT', path, `ZooKeeper ${what} ${path}: no answer within ${timeoutMs} ms`)),
        );
        this.dropConnection(client, `${what} ${path} had no answer within ${timeoutMs} ms`);
      }, timeoutMs);
      timer.unref();
      this.pending.add(entry);
      try {
        call(client, abs, (e, r) => {
          if (e) settle(() => reject(translate(e, what, path)));
          else settle(() => resolve(r as T));
        });
      } catch (err) {
        // The client validates arguments synchronously (bad paths, oversized data).
        settle(() => reject(new ZkError('OTHER', path, `ZooKeeper ${what} ${path}: ${(err as Error).message}`)));
      }
    });
  }

  private async mkdirpAbsolute(abs: string): Promise<void> {
    let current = '';
    for (const segment of abs.split('/').filter((s) => s.length > 0)) {
      current += `/${segment}`;
      try {
        await this.requestAbsolute<string>('create', current, current, (client, path, done) =>
          client.create(path, undefined, zookeeper.CreateMode.PERSISTENT, (e, p) => done(e, p)),
        );
      } catch (err) {
        if (!isZkError(err, 'NODE_EXISTS')) throw err;
      }
    }
  }
}

function translate(e: ZkException, what: string, path: string): ZkError {
  const code = typeof e.getCode === 'function' ? (CODE_NAMES.get(e.getCode()) ?? 'OTHER') : 'OTHER';
  return new ZkError(code, path, `ZooKeeper ${what} ${path}: ${e.message}`);
}

function toBuffer(data: Uint8Array | undefined): Buffer | undefined {
  if (!data) return undefined;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function longToNumber(b: Buffer | undefined): number {
  return b && b.length === 8 ? Number(b.readBigInt64BE(0)) : 0;
}

function convertStat(s: Stat): ZkStat {
  return {
    version: s.version,
    cversion: s.cversion,
    numChildren: s.numChildren,
    dataLength: s.dataLength,
    ephemeralOwner: s.ephemeralOwner ? s.ephemeralOwner.toString('hex') : NO_SESSION,
    ctimeMs: longToNumber(s.ctime),
    mtimeMs: longToNumber(s.mtime),
  };
}

/**
 * Closes the client's socket without a close-session request. The connection manager treats a
 * socket that closes while it is CLOSING as final, so it does not reconnect (which would keep the
 * session alive and defeat the point).
 */
function crashClient(client: Client): void {
  // Stops the client's own reconnect timer chain as well: a CLOSING manager never reconnects.
  const cm = (client as unknown as ConnectionInternals).connectionManager;
  if (!cm) return;
  cm.state = CONNECTION_MANAGER_CLOSING;
  cm.socket?.destroy();
}

/** Removes this module's listeners (not the client's own internal 'state' listener). */
function detach(client: Client): void {
  for (const event of ['connected', 'disconnected', 'expired', 'authenticationFailed'])
    client.removeAllListeners(event);
}

/** The real connector: node-zookeeper-client over TCP (the substrate's own network is not used). */
export const realZkConnector: ZkConnector = (spec, options) => NodeZkSession.open(spec, options);
