// The ZooKeeper client the coordination code sees, under the substrate like the network and the
// disk: coordination (the barrier over znodes, liveness, election, failover) is protocol code and
// runs unchanged over two implementations of this interface —
// - the real one, node-zookeeper-client behind src/coordination/zookeeper/session.ts;
// - the simulated one, src/substrate/sim/zookeeper, a ZooKeeper server on a node of the simulated
//   world and a client over the node's simulated network, on virtual time.
// Paths are relative to the chroot of the --coordination URL. Nothing here may mention a Node type.
import type { Address, Clock, Substrate } from './types.js';

export type ZkErrorCode =
  | 'NO_NODE'
  | 'NODE_EXISTS'
  | 'NOT_EMPTY'
  | 'BAD_VERSION'
  | 'NO_CHILDREN_FOR_EPHEMERALS'
  | 'CONNECTION_LOSS'
  | 'SESSION_EXPIRED'
  | 'OPERATION_TIMEOUT'
  | 'CLOSED'
  | 'OTHER';

export class ZkError extends Error {
  override name = 'ZooKeeperException';
  constructor(
    readonly code: ZkErrorCode,
    readonly path: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function isZkError(err: unknown, ...codes: ZkErrorCode[]): err is ZkError {
  return err instanceof ZkError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * A node cannot join the coordination service as configured: ZooKeeper is unreachable, another
 * master is active, a member name is taken. The CLI reports it like a usage error (exit 2).
 */
export class ZkStartupError extends Error {
  override name = 'ZkStartupError';
}

export interface ZkStat {
  version: number;
  /** Child version: rises with every child created or deleted. */
  cversion: number;
  numChildren: number;
  dataLength: number;
  /** Session id (hex) of an ephemeral znode's owner; NO_SESSION for persistent ones. */
  ephemeralOwner: string;
  ctimeMs: number;
  mtimeMs: number;
}

export type ZkEventType = 'created' | 'deleted' | 'data-changed' | 'children-changed';

export interface ZkEvent {
  type: ZkEventType;
  /** Relative to the chroot, like every path of this API. */
  path: string;
}

/** A one-shot watch callback, as in ZooKeeper: re-arm it by reading again. */
export type ZkWatcher = (event: ZkEvent) => void;

export type ZkSessionState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

export interface ZkStateChange {
  state: ZkSessionState;
  /** Counts sessions: 1 for the first, +1 each time an expired session is replaced. */
  generation: number;
  sessionId: string;
}

export type ZkCreateMode = 'persistent' | 'ephemeral' | 'persistent-sequential' | 'ephemeral-sequential';

export type ZkOp =
  | { op: 'create'; path: string; data?: Uint8Array; mode?: ZkCreateMode }
  | { op: 'delete'; path: string; version?: number }
  | { op: 'check'; path: string; version?: number }
  | { op: 'set'; path: string; data: Uint8Array; version?: number };

/** A parsed --coordination URL (src/coordination/zookeeper/connection.ts parses it). */
export interface ZkConnectionSpec {
  /** The ensemble, in the order given (the client tries them in turn). */
  servers: Address[];
  /** Absolute znode path every rollcall znode lives under, e.g. '/rollcall'; never '/' alone. */
  chroot: string;
  /** From ?sessionTimeoutMs=N: how long after a node dies its ephemeral znodes disappear. */
  sessionTimeoutMs?: number;
  /** The normalized URL, for logs and error messages. */
  url: string;
}

export interface ZkSessionOptions {
  /**
   * Requested session timeout (default: the URL's ?sessionTimeoutMs, else 10 s); the server clamps
   * it to its min/max (zk.sh: 1,000..30,000 ms).
   */
  sessionTimeoutMs?: number;
  /** How long open() waits for the first connection before giving up. */
  connectTimeoutMs?: number;
  /**
   * One request's bound, after which its connection is dropped and made again; defaults to 2/3 of
   * the negotiated session timeout (Java's read timeout), so a reconnect beats the session's expiry.
   */
  attemptTimeoutMs?: number;
  /** Attempts per request when the connection is lost (never for sequential creates). */
  maxAttempts?: number;
  /** First pause between attempts; doubles up to MAX_RETRY_PAUSE_MS. */
  retryPauseMs?: number;
  /** Open a new session after an expiry (true for nodes; false to observe expiry in tests). */
  renewAfterExpiry?: boolean;
  /** Who owns the session, for log lines. */
  owner?: string;
  log?: (message: string) => void;
}

export const ZK_SESSION_DEFAULTS = {
  sessionTimeoutMs: 10_000,
  connectTimeoutMs: 15_000,
  maxAttempts: 5,
  retryPauseMs: 100,
} as const;

export const MAX_RETRY_PAUSE_MS = 1_000;
/** ZooKeeper's default jute.maxbuffer is 1 MiB per request; stay clear of it. */
export const MAX_ZNODE_DATA_BYTES = 900 * 1024;
/** Bound on a tree removed by deleteTree: deeper is not a rollcall layout. */
export const MAX_TREE_DEPTH = 6;
/** Shown as a node's session id before it is known, and as a persistent znode's owner. */
export const NO_SESSION = '0000000000000000';
/** Retried on: the request may not have reached the server, or its answer was lost. */
export const RETRYABLE_ZK_ERRORS: readonly ZkErrorCode[] = ['CONNECTION_LOSS', 'OPERATION_TIMEOUT'];

/** One node's session with the ZooKeeper ensemble. */
export interface ZkSession {
  readonly spec: ZkConnectionSpec;
  /** The clock the session runs on; coordination code times its own waits with it. */
  readonly clock: Clock;
  readonly state: ZkSessionState;
  readonly generation: number;
  readonly sessionId: string;
  /** The timeout the server granted: how long after a crash its ephemeral znodes disappear. */
  readonly sessionTimeoutMs: number;
  readonly isClosed: boolean;
  /** Listens to state changes; returns an unsubscribe function. */
  onStateChange(listener: (change: ZkStateChange) => void): () => void;
  /** Creates a znode; returns its path (with the sequence number for sequential modes). */
  create(path: string, data?: Uint8Array, mode?: ZkCreateMode): Promise<string>;
  /** Creates the znode unless it exists; true when this call created it. */
  createIfAbsent(path: string, data?: Uint8Array, mode?: ZkCreateMode): Promise<boolean>;
  delete(path: string, version?: number): Promise<void>;
  /** Deletes the znode if present; true when this call deleted it. */
  deleteIfPresent(path: string): Promise<boolean>;
  /** Stat of the znode or null; a watcher fires on its creation, change or deletion. */
  exists(path: string, watcher?: ZkWatcher): Promise<ZkStat | null>;
  /** Data and stat; throws ZkError NO_NODE when missing. A watcher fires on change or deletion. */
  getData(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat }>;
  getDataIfPresent(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat } | null>;
  setData(path: string, data: Uint8Array, version?: number): Promise<ZkStat>;
  /** Child names (not paths); throws NO_NODE when missing. A watcher fires on a child change or deletion. */
  getChildren(path: string, watcher?: ZkWatcher): Promise<string[]>;
  getChildrenIfPresent(path: string, watcher?: ZkWatcher): Promise<string[] | null>;
  /** Runs the operations atomically (ZooKeeper's multi); throws the first failing op's error. */
  multi(ops: readonly ZkOp[]): Promise<void>;
  /** Creates the path and any missing parents (persistent, empty). */
  mkdirp(path: string): Promise<void>;
  /** Deletes a znode and everything under it, children first; tolerates znodes removed meanwhile. */
  deleteTree(path: string): Promise<void>;
  /** Ends the session: the server removes its ephemeral znodes at once. */
  close(): Promise<void>;
  /**
   * Drops the connection without ending the session, as a killed process does: the server keeps
   * the session (and its ephemeral znodes) until the session timeout passes.
   */
  crash(): void;
}

/** Opens a session for one node: the real client, or the simulated one on the node's substrate. */
export type ZkConnector = (
  spec: ZkConnectionSpec,
  options: ZkSessionOptions,
  substrate: Substrate,
) => Promise<ZkSession>;

/**
 * What both implementations share: the state machine's listeners, the operations ZooKeeper itself
 * does not have, and the retries.
 */
export abstract class ZkSessionBase implements ZkSession {
  abstract readonly spec: ZkConnectionSpec;
  abstract readonly clock: Clock;
  abstract readonly sessionId: string;
  protected abstract readonly log: (message: string) => void;
  /** Who owns the session, for log lines. */
  protected abstract readonly owner: string;
  protected stateValue: ZkSessionState = 'connecting';
  protected generationValue = 0;
  /** The session timeout the server granted (the requested one until it answers). */
  protected abstract negotiatedTimeoutMs: number;
  protected closed = false;
  private readonly stateListeners = new Set<(change: ZkStateChange) => void>();

  get state(): ZkSessionState {
    return this.stateValue;
  }

  get generation(): number {
    return this.generationValue;
  }

  /** The timeout the server granted: how long after a crash its ephemeral znodes disappear. */
  get sessionTimeoutMs(): number {
    return this.negotiatedTimeoutMs;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onStateChange(listener: (change: ZkStateChange) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Moves to `state` and tells the listeners; 'connected' is told every time (a reconnection). */
  protected setState(state: ZkSessionState): void {
    if (this.stateValue === state && state !== 'connected') return;
    this.stateValue = state;
    const change: ZkStateChange = { state, generation: this.generationValue, sessionId: this.sessionId };
    for (const l of [...this.stateListeners]) {
      try {
        l(change);
      } catch (err) {
        this.log(`${this.owner}: ZooKeeper state listener failed: ${(err as Error).message}`);
      }
    }
  }

  abstract create(path: string, data?: Uint8Array, mode?: ZkCreateMode): Promise<string>;
  abstract delete(path: string, version?: number): Promise<void>;
  abstract exists(path: string, watcher?: ZkWatcher): Promise<ZkStat | null>;
  abstract getData(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat }>;
  abstract setData(path: string, data: Uint8Array, version?: number): Promise<ZkStat>;
  abstract getChildren(path: string, watcher?: ZkWatcher): Promise<string[]>;
  abstract multi(ops: readonly ZkOp[]): Promise<void>;
  abstract close(): Promise<void>;
  abstract crash(): void;

  async createIfAbsent(path: string, data?: Uint8Array, mode: ZkCreateMode = 'persistent'): Promise<boolean> {
    try {
      await this.create(path, data, mode);
      return true;
    } catch (err) {
      // Also what a retried create whose first attempt succeeded sees.
      if (isZkError(err, 'NODE_EXISTS')) return false;
      throw err;
    }
  }

  async deleteIfPresent(path: string): Promise<boolean> {
    try {
      await this.delete(path);
      return true;
    } catch (err) {
      if (isZkError(err, 'NO_NODE')) return false;
      throw err;
    }
  }

  async getDataIfPresent(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat } | null> {
    try {
      return await this.getData(path, watcher);
    } catch (err) {
      if (isZkError(err, 'NO_NODE')) return null;
      throw err;
    }
  }

  async getChildrenIfPresent(path: string, watcher?: ZkWatcher): Promise<string[] | null> {
    try {
      return await this.getChildren(path, watcher);
    } catch (err) {
      if (isZkError(err, 'NO_NODE')) return null;
      throw err;
    }
  }

  async mkdirp(path: string): Promise<void> {
    let current = '';
    for (const segment of path.split('/').filter((s) => s.length > 0)) {
      current += `/${segment}`;
      await this.createIfAbsent(current);
    }
  }

  async deleteTree(path: string, depth = 0): Promise<void> {
    if (depth > MAX_TREE_DEPTH) throw new ZkError('OTHER', path, `znode tree under ${path} is deeper than expected`);
    const children = await this.getChildrenIfPresent(path);
    if (children === null) return;
    await Promise.all(children.map((c) => this.deleteTree(`${path === '/' ? '' : path}/${c}`, depth + 1)));
    try {
      await this.delete(path);
    } catch (err) {
      if (isZkError(err, 'NO_NODE')) return;
      // A child created meanwhile (a late member report): one more pass, then give up loudly.
      if (isZkError(err, 'NOT_EMPTY') && depth === 0) return this.deleteTree(path, depth + 1);
      throw err;
    }
  }

  /**
   * Runs `attempt` until it succeeds, fails for good, or `maxAttempts` connection losses or
   * timeouts have passed, pausing between attempts (doubling, bounded) on the session's clock.
   * A request belongs to the session it was made in: once that session expired, a retry would run
   * in the next one, after its owner was fenced (a deposed master re-creating a run's znodes, say),
   * so it fails with SESSION_EXPIRED instead.
   */
  protected async retrying<T>(
    what: string,
    path: string,
    attempt: () => Promise<T>,
    maxAttempts: number,
    firstPauseMs: number,
  ): Promise<T> {
    const generation = this.generation;
    let pauseMs = firstPauseMs;
    for (let n = 1; ; n++) {
      try {
        if (n > 1 && (this.generation !== generation || this.state === 'expired')) {
          throw new ZkError(
            'SESSION_EXPIRED',
            path,
            `ZooKeeper ${what} ${path}: the session it was made in expired before it could be retried`,
          );
        }
        return await attempt();
      } catch (err) {
        if (!isZkError(err) || !RETRYABLE_ZK_ERRORS.includes(err.code) || n >= maxAttempts || this.isClosed) {
          if (isZkError(err) && n > 1) err.message += ` (after ${n} attempts)`;
          throw err;
        }
        await new Promise<void>((resolve) => this.clock.setTimer(pauseMs, resolve));
        pauseMs = Math.min(pauseMs * 2, MAX_RETRY_PAUSE_MS);
      }
    }
  }
}

/** Throws when znode data is too big for one ZooKeeper request. */
export function checkZnodeSize(path: string, data: Uint8Array | undefined): void {
  if (data && data.byteLength > MAX_ZNODE_DATA_BYTES) {
    throw new ZkError(
      'OTHER',
      path,
      `znode data for ${path} is ${data.byteLength} bytes; the limit is ${MAX_ZNODE_DATA_BYTES}`,
    );
  }
}
