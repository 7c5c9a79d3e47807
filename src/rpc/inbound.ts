// The server's side of one connection, from accept to close: the login (a `hello` naming the peer,
// within a deadline, in a small frame), the bounds on connections per host, per peer and in total,
// and the idle timeout once logged in. All timing comes from the substrate clock, so the simulator
// runs these rules on virtual time exactly as TCP runs them on real time.
import type { Clock, Connection, TimerHandle } from '../substrate/types.js';
import { formatAddress } from '../substrate/types.js';
import { assert } from '../util/assert.js';

export interface ServerConnectionLimits {
  /** Largest frame accepted before login: a hello is a few dozen bytes. */
  preLoginMaxFrameBytes: number;
  /** Largest frame accepted after login (the network's own limit is the ceiling). */
  maxFrameBytes: number;
  /** A connection that has not logged in by then is closed. */
  loginTimeoutMs: number;
  /** A logged-in connection with no call in flight and no frame either way for this long is closed. */
  idleTimeoutMs: number;
  /** Open connections in total; more are closed at accept. */
  maxConnections: number;
  /** Connections not yet logged in from one host; more are closed at accept. */
  maxPreLoginPerHost: number;
  /** Logged-in connections from one peer (a node name at a host); more are refused at login. */
  maxConnectionsPerPeer: number;
  /** Longest node name a hello may carry. */
  maxNodeNameChars: number;
}

export const DEFAULT_SERVER_CONNECTION_LIMITS: ServerConnectionLimits = {
  preLoginMaxFrameBytes: 4 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
  loginTimeoutMs: 5_000,
  // Clients close their own idle connections after half of this (RpcClient), so a call never
  // races the server's close.
  idleTimeoutMs: 180_000,
  maxConnections: 20_000,
  // An in-process cluster starts 256 workers at once, all from 127.0.0.1.
  maxPreLoginPerHost: 256,
  maxConnectionsPerPeer: 16,
  maxNodeNameChars: 256,
};

export type LoginVerdict = { ok: true } | { ok: false; reason: string };

/** Counts connections per host (before login) and per peer (after), and the total. */
export class ConnectionLedger {
  private readonly preLogin = new Map<string, number>();
  private readonly perPeer = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: ServerConnectionLimits) {}

  get open(): number {
    return this.total;
  }

  /** Admits a new connection from host, or says why not. */
  admit(host: string): LoginVerdict {
    if (this.total >= this.limits.maxConnections) {
      return { ok: false, reason: `${this.total} connections open (limit ${this.limits.maxConnections})` };
    }
    const n = this.preLogin.get(host) ?? 0;
    if (n >= this.limits.maxPreLoginPerHost) {
      return {
        ok: false,
        reason: `${n} connections from ${host} not logged in (limit ${this.limits.maxPreLoginPerHost})`,
      };
    }
    this.preLogin.set(host, n + 1);
    this.total++;
    return { ok: true };
  }

  /**
   * Moves a connection from its host's pre-login count to its peer's, or says why not. A peer is a
   * node name at a host: command-line clients on many hosts all call themselves 'client'.
   */
  login(host: string, node: string): LoginVerdict {
    const peer = peerKey(host, node);
    const n = this.perPeer.get(peer) ?? 0;
    if (n >= this.limits.maxConnectionsPerPeer) {
      return { ok: false, reason: `${n} connections from ${peer} (limit ${this.limits.maxConnectionsPerPeer})` };
    }
    decrement(this.preLogin, host);
    this.perPeer.set(peer, n + 1);
    return { ok: true };
  }

  /** Forgets a closed connection: from its host's count if it never logged in, else its peer's. */
  release(host: string, node: string | undefined): void {
    assert(this.total > 0, 'connection ledger released more than it admitted');
    this.total--;
    if (node === undefined) decrement(this.preLogin, host);
    else decrement(this.perPeer, peerKey(host, node));
  }
}

function peerKey(host: string, node: string): string {
  return `${node}@${host}`;
}

function decrement(m: Map<string, number>, key: string): void {
  const left = (m.get(key) ?? 1) - 1;
  if (left > 0) m.set(key, left);
  else m.delete(key);
}

/**
 * Login deadline and idle timeout of one accepted connection. One timer at a time: it fires at
 * the login deadline, then at the earliest instant the connection could have been idle for
 * idleTimeoutMs, re-arming itself while there is traffic or a call in flight.
 */
export class InboundConnection {
  peer: string | undefined;
  private inFlight = 0;
  private lastActivityMs: number;
  private timer: TimerHandle | undefined;

  constructor(
    readonly conn: Connection,
    private readonly clock: Clock,
    private readonly limits: ServerConnectionLimits,
    private readonly onExpired: (why: string) => void,
  ) {
    this.lastActivityMs = clock.nowMs();
    conn.setMaxFrameBytes(limits.preLoginMaxFrameBytes);
    this.timer = clock.setTimer(limits.loginTimeoutMs, () => {
      this.timer = undefined;
      if (this.peer === undefined && !conn.closed) {
        this.onExpired(`no login from ${formatAddress(conn.remoteAddress)} within ${limits.loginTimeoutMs} ms`);
      }
    });
  }

  get loggedIn(): boolean {
    return this.peer !== undefined;
  }

  /** The peer logged in: lift the frame limit, start the idle clock. */
  loggedInAs(peer: string): void {
    assert(this.peer === undefined, 'logged in twice');
    this.peer = peer;
    this.conn.setMaxFrameBytes(this.limits.maxFrameBytes);
    this.timer?.cancel();
    this.touch();
    this.armIdle(this.limits.idleTimeoutMs);
  }

  touch(): void {
    this.lastActivityMs = this.clock.nowMs();
  }

  callStarted(): void {
    this.inFlight++;
    this.touch();
  }

  callEnded(): void {
    assert(this.inFlight > 0, 'call ended twice');
    this.inFlight--;
    this.touch();
  }

  closed(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private armIdle(delayMs: number): void {
    this.timer = this.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      if (this.conn.closed) return;
      const idleMs = this.clock.nowMs() - this.lastActivityMs;
      if (this.inFlight === 0 && idleMs >= this.limits.idleTimeoutMs) {
        this.onExpired(`${this.peer} idle for ${Math.round(idleMs)} ms`);
        return;
      }
      // A call in flight (a handler parked for minutes) is not idleness: check again later.
      this.armIdle(this.inFlight > 0 ? this.limits.idleTimeoutMs : this.limits.idleTimeoutMs - idleMs);
    });
  }
}
