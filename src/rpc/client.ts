// An RPC client: one connection per peer, per-call deadlines, bounded retries with pause.
// The calling logical thread is parked on the call (a WAITING thread in dumps, linked to the
// serving handler by node + thread id + call id). At the deadline the caller stops waiting; the
// server-side handler is not interrupted, as in HBase.
import type { Address, Clock, Connection, Substrate, TimerHandle } from '../substrate/types.js';
import { NetworkError, formatAddress } from '../substrate/types.js';
import type { LogicalThread } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { withTimeout } from '../util/timeout.js';
import { CallTimeoutError, RpcError, fromWireError } from './errors.js';
import { decode, encode, type ResponseMessage } from './messages.js';

export interface Peer {
  /** Node name, shown in wait descriptors and dumps. */
  node: string;
  addr: Address;
}

export interface CallOptions {
  /** The logical thread making the call; it is parked for the call's duration. */
  thread: LogicalThread;
  /** Per-attempt deadline. */
  timeoutMs?: number;
  /** Attempts after the first, for retryable errors. */
  retries?: number;
  retryPauseMs?: number;
  /** Bound on all attempts and pauses together. */
  operationTimeoutMs?: number;
  /**
   * Withdraws the call when aborted: the caller stops waiting at once (like an interrupted JVM
   * thread); the server-side handler is not interrupted.
   */
  signal?: AbortSignal;
}

export interface RpcClientOptions {
  node: string;
  substrate: Substrate;
  timeoutMs?: number;
  retries?: number;
  retryPauseMs?: number;
  operationTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** A connection with no call in flight and no traffic for this long is closed (reopened on demand). */
  idleTimeoutMs?: number;
  /** Bound on calls in flight from this client. */
  maxInFlight?: number;
}

export const DEFAULT_RPC_TIMEOUT_MS = 60_000;
/**
 * Half the server's idle timeout (DEFAULT_SERVER_CONNECTION_LIMITS.idleTimeoutMs): the client
 * closes first, so a call is never sent on a connection the server is closing.
 */
export const DEFAULT_CLIENT_IDLE_TIMEOUT_MS = 90_000;
export const DEFAULT_MAX_IN_FLIGHT = 100_000;
export const MAX_RETRIES = 100;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

class PeerConnection {
  readonly pending = new Map<number, Pending>();
  private lastActivityMs: number;
  private idleTimer: TimerHandle | undefined;

  constructor(
    readonly conn: Connection,
    readonly remoteNode: string,
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
  ) {
    this.lastActivityMs = clock.nowMs();
  }

  touch(): void {
    this.lastActivityMs = this.clock.nowMs();
  }

  /** Closes the connection once it has been idle (no call pending, no traffic) for idleTimeoutMs. */
  watchIdle(delayMs = this.idleTimeoutMs): void {
    this.idleTimer = this.clock.setTimer(delayMs, () => {
      this.idleTimer = undefined;
      if (this.conn.closed) return;
      const idleMs = this.clock.nowMs() - this.lastActivityMs;
      if (this.pending.size === 0 && idleMs >= this.idleTimeoutMs) this.conn.close();
      else this.watchIdle(this.pending.size > 0 ? this.idleTimeoutMs : this.idleTimeoutMs - idleMs);
    });
  }

  closed(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
  }
}

export class RpcClient {
  private readonly peers = new Map<string, Promise<PeerConnection>>();
  /** Established connections, so the common case skips a connect wait. */
  private readonly ready = new Map<string, PeerConnection>();
  private nextCallId = 1;
  private inFlight = 0;
  private closed = false;

  constructor(private readonly options: RpcClientOptions) {}

  get node(): string {
    return this.options.node;
  }

  async call<T = unknown>(peer: Peer, method: string, args: unknown, opts: CallOptions): Promise<T> {
    const clock = this.options.substrate.clock;
    const timeoutMs = opts.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    const retries = Math.min(opts.retries ?? this.options.retries ?? 0, MAX_RETRIES);
    const pauseMs = opts.retryPauseMs ?? this.options.retryPauseMs ?? 100;
    const operationTimeoutMs = opts.operationTimeoutMs ?? this.options.operationTimeoutMs ?? Infinity;
    const operationDeadline = clock.nowMs() + operationTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const remaining = operationDeadline - clock.nowMs();
      try {
        return (await this.attempt(peer, method, args, opts.thread, Math.min(timeoutMs, remaining), opts.signal)) as T;
      } catch (err) {
        // A failed TLS handshake (wrong secret or certificate) does not heal by retrying.
        const retryable = err instanceof RpcError ? err.retryable : err instanceof NetworkError && err.code !== 'EAUTH';
        const stop = !retryable || attempt >= retries || this.closed || opts.signal?.aborted === true;
        if (stop || clock.nowMs() + pauseMs >= operationDeadline) throw err;
        await opts.thread.waitOn(
          { kind: 'timer', untilMs: clock.nowMs() + pauseMs, reason: 'rpc-retry-pause' },
          new Promise<void>((r) => clock.setTimer(pauseMs, r)),
        );
      }
    }
  }

  /** Closes every connection; calls in flight fail with ConnectionClosed. */
  close(): void {
    this.closed = true;
    for (const p of this.peers.values())
      p.then(
        (pc) => pc.conn.close(),
        () => {},
      );
    this.peers.clear();
    this.ready.clear();
  }

  private async attempt(
    peer: Peer,
    method: string,
    args: unknown,
    thread: LogicalThread,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (this.closed) throw new RpcError('ConnectionClosed', 'client closed', false);
    if (signal?.aborted) throw cancelled(peer, method, signal);
    assert(
      this.inFlight < (this.options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT),
      `${this.options.node}: too many calls in flight`,
    );
    const clock = this.options.substrate.clock;
    // The call's deadline covers connecting too: a 1 s call must not wait out a 10 s connect.
    const deadlineMs = clock.nowMs() + timeoutMs;
    const pc =
      this.ready.get(formatAddress(peer.addr)) ??
      (await thread.waitOn(
        { kind: 'io', what: `connect ${peer.node}` },
        withTimeout(
          clock,
          timeoutMs,
          this.connection(peer),
          () =>
            new CallTimeoutError(
              `Call to ${peer.node} (${formatAddress(peer.addr)}) method ${method} timed out after ${Math.round(timeoutMs)} ms while connecting`,
            ),
        ),
      ));
    const callId = this.nextCallId++;
    const remainingMs = Math.max(0, deadlineMs - clock.nowMs());
    this.inFlight++;
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = clock.setTimer(remainingMs, () => {
        if (pc.pending.delete(callId)) {
          signal?.removeEventListener('abort', onAbort);
          reject(
            new CallTimeoutError(
              `Call to ${peer.node} (${formatAddress(peer.addr)}) method ${method} id=${callId} timed out after ${Math.round(timeoutMs)} ms`,
            ),
          );
        }
      });
      const onAbort = (): void => {
        if (pc.pending.delete(callId)) {
          timer.cancel();
          reject(cancelled(peer, method, signal!));
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      pc.pending.set(callId, {
        resolve: (v) => {
          timer.cancel();
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          timer.cancel();
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      pc.touch();
      const sent = pc.conn.send(
        encode({ t: 'req', id: callId, m: method, a: args, cn: this.options.node, ct: thread.id }),
      );
      if (!sent) {
        pc.pending.delete(callId);
        timer.cancel();
        reject(new RpcError('ConnectionClosed', `connection to ${peer.node} is closed`, true));
      }
    });
    try {
      return await thread.waitOn(
        { kind: 'rpc', target: peer.node, targetAddr: formatAddress(peer.addr), method, callId, deadlineMs },
        result,
      );
    } finally {
      this.inFlight--;
    }
  }

  private connection(peer: Peer): Promise<PeerConnection> {
    const key = formatAddress(peer.addr);
    let p = this.peers.get(key);
    if (!p) {
      p = this.open(peer);
      this.peers.set(key, p);
      // A failed connect must not poison later calls.
      p.catch(() => {
        if (this.peers.get(key) === p) this.peers.delete(key);
      });
    }
    return p;
  }

  private async open(peer: Peer): Promise<PeerConnection> {
    const key = formatAddress(peer.addr);
    const { clock, network } = this.options.substrate;
    const connectTimeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const conn = await network.connect(peer.addr, { timeoutMs: connectTimeoutMs });
    const pc = new PeerConnection(conn, peer.node, clock, this.options.idleTimeoutMs ?? DEFAULT_CLIENT_IDLE_TIMEOUT_MS);
    return new Promise<PeerConnection>((resolve, reject) => {
      let welcomed = false;
      // The login is bounded like the connect: a peer that accepts but never answers (or a lost
      // hello) must not park every caller of this peer forever.
      const loginTimer = clock.setTimer(connectTimeoutMs, () => {
        if (welcomed) return;
        reject(new NetworkError(`login to ${peer.node} (${key}) timed out after ${connectTimeoutMs} ms`, 'ETIMEDOUT'));
        conn.close();
      });
      conn.onClose((error) => {
        loginTimer.cancel();
        pc.closed();
        if (this.ready.get(key) === pc) this.ready.delete(key);
        if (this.peers.get(key) !== undefined) {
          void this.peers.get(key)!.then(
            (cur) => {
              if (cur === pc) this.peers.delete(key);
            },
            () => {},
          );
        }
        const cause = error ? `: ${error.message}` : '';
        const closedErr = new RpcError('ConnectionClosed', `connection to ${peer.node} (${key}) closed${cause}`, true);
        for (const p of pc.pending.values()) p.reject(closedErr);
        pc.pending.clear();
        if (!welcomed) {
          const code = error instanceof NetworkError ? error.code : 'ECONNRESET';
          reject(new NetworkError(`connection to ${peer.node} (${key}) closed during login${cause}`, code));
        }
      });
      conn.onFrame((frame) => {
        pc.touch();
        const msg = decode(frame);
        if (msg.t === 'welcome') {
          welcomed = true;
          loginTimer.cancel();
          this.ready.set(key, pc);
          pc.watchIdle();
          resolve(pc);
        } else if (msg.t === 'res') {
          if (!welcomed && msg.id === 0 && msg.e) {
            // Refused at login (too many connections from this node).
            reject(
              new RpcError(msg.e.type, `${peer.node} (${key}) refused this node: ${msg.e.message}`, msg.e.retryable),
            );
            return;
          }
          this.onResponse(pc, msg, peer);
        }
      });
      conn.send(encode({ t: 'hello', node: this.options.node }));
    });
  }

  private onResponse(pc: PeerConnection, msg: ResponseMessage, peer: Peer): void {
    const p = pc.pending.get(msg.id);
    if (!p) return; // the caller already gave up (deadline): drop the late answer.
    pc.pending.delete(msg.id);
    if (msg.e) p.reject(fromWireError(msg.e, peer.node));
    else p.resolve(msg.r);
  }
}

function cancelled(peer: Peer, method: string, signal: AbortSignal): RpcError {
  const why = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return new RpcError('Cancelled', `call to ${peer.node} method ${method} withdrawn${why}`, false);
}
