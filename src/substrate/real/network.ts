// The real network: length-prefixed frames over TCP, or over TLS when the node has link security.
// What a peer can cost is bounded here, where bytes arrive: a frame larger than the connection's
// current limit closes it at its header (servers keep that limit small until the peer logs in);
// a peer that does not read what it is sent stops being read from, and is dropped when it leaves
// too much unread; TLS handshakes are bounded in time and in number per host.
import net from 'node:net';
import tls from 'node:tls';
import { NetworkError, formatAddress, type Address, type Connection, type Listener, type Network } from '../types.js';
import { clientTlsOptions, handshakeHint, serverTlsOptions, type LinkSecurity } from './tls.js';

const HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface RealNetworkLimits {
  /** Unsent frames a server connection may hold before it stops reading that peer's requests. */
  outboundPauseBytes: number;
  /** Unsent frames any connection may hold: a peer that leaves more unread is disconnected. */
  outboundMaxBytes: number;
  /** A TLS handshake not finished within this closes the connection. */
  handshakeTimeoutMs: number;
  /** TLS handshakes in progress at once, from one host and in total; more are refused. */
  maxHandshakesPerHost: number;
  maxHandshakes: number;
  /** After close(), unsent frames get this long to leave before the socket is destroyed. */
  closeFlushMs: number;
}

export const REAL_NETWORK_LIMITS: Readonly<RealNetworkLimits> = {
  outboundPauseBytes: 1024 * 1024,
  outboundMaxBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  maxHandshakesPerHost: 256,
  maxHandshakes: 4096,
  closeFlushMs: 2_000,
};

export type FrameErrorLogger = (message: string) => void;

export interface TcpNetworkOptions {
  /** Largest frame any connection accepts or sends (a connection may lower its own limit). */
  maxFrameBytes?: number;
  log?: FrameErrorLogger;
  /** TLS for every connection (both directions); plain TCP without. */
  security?: LinkSecurity;
  limits?: Partial<RealNetworkLimits>;
}

export interface NetworkStats {
  connections: number;
  /** Received bytes not yet delivered as frames, over all connections. */
  bufferedInBytes: number;
  /** Frames queued for sending, over all connections. */
  bufferedOutBytes: number;
  /** Connections whose reading is paused because their peer does not read. */
  readPaused: number;
  tlsHandshakesInProgress: number;
}

type Limits = Readonly<RealNetworkLimits>;

/**
 * Logs what remote peers cause (bad frames, failed handshakes) without letting a peer flood the
 * log: at most linesPerWindow lines per window, then one line counting the ones left out.
 */
class ThrottledLog {
  private windowStartMs = -Infinity;
  private lines = 0;
  private suppressed = 0;
  constructor(
    private readonly out: FrameErrorLogger,
    private readonly linesPerWindow = 20,
    private readonly windowMs = 10_000,
  ) {}
  write(message: string): void {
    const now = Date.now();
    if (now - this.windowStartMs >= this.windowMs) {
      if (this.suppressed > 0)
        this.out(`${this.suppressed} more connection errors not logged in the last ${this.windowMs} ms`);
      this.windowStartMs = now;
      this.lines = 0;
      this.suppressed = 0;
    }
    if (this.lines < this.linesPerWindow) {
      this.lines++;
      this.out(message);
    } else {
      this.suppressed++;
    }
  }
}

/** A TLS alert record (fatal handshake_failure), sent to a TLS client that reached a plain listener. */
const TLS_HANDSHAKE_FAILURE_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);

/** Length-prefixed frames (4-byte big-endian length) over a TCP or TLS socket. */
export class TcpConnection implements Connection {
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private closeHandler: ((error: Error | undefined) => void) | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private corked = false;
  private closeError: Error | undefined;
  private closeReported = false;
  private maxFrameBytes: number;
  private paused = false;
  closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly network: TcpNetwork,
    /** Accepted by a listener: replies not read by the peer pause reading its requests. */
    private readonly serverSide: boolean,
  ) {
    this.maxFrameBytes = network.maxFrameBytes;
    socket.setNoDelay(true);
    this.localAddress = { host: socket.localAddress ?? '?', port: socket.localPort ?? 0 };
    this.remoteAddress = { host: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
    network.track(this);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeError ??= new NetworkError(err.message, codeOf(err));
      // A TLS error after the handshake (a forged or corrupt record) does not destroy the socket
      // by itself: the stream can no longer be trusted, so end it.
      socket.destroy();
    });
    socket.on('close', () => {
      this.closed = true;
      this.pending = [];
      this.pendingBytes = 0;
      network.untrack(this);
      this.reportClose();
    });
  }

  /** Whether reading is paused because the peer leaves what it is sent unread. */
  get readPaused(): boolean {
    return this.paused;
  }

  get bufferedInBytes(): number {
    return this.pendingBytes;
  }

  get bufferedOutBytes(): number {
    return this.socket.destroyed ? 0 : this.socket.writableLength;
  }

  setMaxFrameBytes(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 1)
      throw new Error(`a frame limit must be a positive integer, not ${bytes}`);
    this.maxFrameBytes = Math.min(bytes, this.network.maxFrameBytes);
  }

  send(frame: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (frame.byteLength > this.network.maxFrameBytes) {
      this.fail(`refusing to send a ${frame.byteLength}-byte frame (limit ${this.network.maxFrameBytes})`, 'EFRAME');
      return false;
    }
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32BE(frame.byteLength, 0);
    // Coalesce all frames sent in one tick into one write: many small calls, few syscalls.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => this.uncork());
    }
    this.socket.write(header);
    this.socket.write(frame);
    this.checkOutbound();
    return !this.closed;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
  }

  onClose(handler: (error: Error | undefined) => void): void {
    this.closeHandler = handler;
    if (this.closed && this.socket.destroyed) this.reportClose();
  }

  /** Stops reading and ends the connection once what was sent has left (or after closeFlushMs). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.uncork();
    // Still read (and drop) what arrives, so the peer's end of the connection is seen.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), this.network.limits.closeFlushMs).unref();
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private reportClose(): void {
    if (this.closeReported || !this.closeHandler) return;
    this.closeReported = true;
    this.closeHandler(this.closeError);
  }

  private fail(message: string, code: NetworkError['code'], reply?: Buffer): void {
    // A client learns why through the close error its caller gets; a server has only its log.
    if (this.serverSide) this.network.log(`${message}; closing connection to ${formatAddress(this.remoteAddress)}`);
    this.closeError = new NetworkError(message, code);
    this.closed = true;
    if (reply) this.socket.end(reply);
    this.socket.destroy();
  }

  private checkOutbound(): void {
    const queued = this.socket.writableLength;
    const limits = this.network.limits;
    if (queued > limits.outboundMaxBytes) {
      this.fail(`the peer left ${queued} bytes unread (limit ${limits.outboundMaxBytes})`, 'EOTHER');
      return;
    }
    if (this.serverSide && !this.paused && queued > limits.outboundPauseBytes) {
      // Stop taking requests from a peer that does not read the replies: they would pile up here.
      this.paused = true;
      this.socket.pause();
      this.socket.once('drain', () => {
        this.paused = false;
        if (this.closed) return;
        this.socket.resume();
        this.deliver();
      });
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.deliver();
  }

  private deliver(): void {
    while (this.pendingBytes >= HEADER_BYTES && !this.closed && !this.paused) {
      const head = this.pending[0]!.length >= HEADER_BYTES ? this.pending[0]! : this.flatten();
      const length = head.readUInt32BE(0);
      if (length > this.maxFrameBytes) {
        this.refuseFrame(head, length);
        return;
      }
      if (this.pendingBytes < HEADER_BYTES + length) return;
      const all = this.pending.length === 1 ? this.pending[0]! : this.flatten();
      const frame = all.subarray(HEADER_BYTES, HEADER_BYTES + length);
      const rest = all.subarray(HEADER_BYTES + length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      try {
        this.frameHandler?.(frame);
      } catch (err) {
        this.fail(`frame handler failed: ${(err as Error).message}`, 'EFRAME');
        return;
      }
    }
  }

  /** A header over the limit: an oversized frame, or TLS spoken to a plain endpoint. */
  private refuseFrame(head: Buffer, length: number): void {
    if (!this.network.security && looksLikeTls(head)) {
      if (this.serverSide) {
        this.fail(
          'a TLS client connected, but this node has no cluster secret or certificates',
          'EAUTH',
          TLS_HANDSHAKE_FAILURE_ALERT,
        );
      } else {
        this.fail(handshakeHint(undefined), 'EAUTH');
      }
      return;
    }
    this.fail(`received a frame of ${length} bytes (limit ${this.maxFrameBytes})`, 'EFRAME');
  }

  private flatten(): Buffer {
    const b = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [b];
    return b;
  }
}

/** A TLS record header: handshake (0x16) or alert (0x15), protocol major version 3. */
function looksLikeTls(b: Buffer): boolean {
  return (b[0] === 0x16 || b[0] === 0x15) && b[1] === 0x03;
}

/** OpenSSL's reason ("sslv3 alert bad record mac") without its file, line and error codes. */
function sslReason(err: Error): string {
  return /SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1]?.trim() ?? err.message.trim();
}

function codeOf(err: NodeJS.ErrnoException): NetworkError['code'] {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
      return err.code;
    default:
      return isTlsRefusal(err.code) ? 'EAUTH' : 'EOTHER';
  }
}

/** OpenSSL failures (wrong key, alerts) and certificate checks: the peer's or our credentials. */
function isTlsRefusal(code: string | undefined): boolean {
  if (code === undefined) return false;
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_CERT') ||
    /CERT|SIGNATURE|ISSUER|SELF_SIGNED|CHAIN/.test(code)
  );
}

export class TcpNetwork implements Network {
  readonly maxFrameBytes: number;
  readonly security: LinkSecurity | undefined;
  readonly limits: Limits;
  private readonly throttled: ThrottledLog;
  private readonly live = new Set<TcpConnection>();
  private readonly handshakes = new Map<string, number>();
  private handshakesTotal = 0;

  constructor(options: TcpNetworkOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.security = options.security;
    this.limits = { ...REAL_NETWORK_LIMITS, ...options.limits };
    this.throttled = new ThrottledLog(options.log ?? ((m) => process.stderr.write(`rollcall: ${m}\n`)));
  }

  log(message: string): void {
    this.throttled.write(message);
  }

  /** What the open connections hold: the bound a test or a benchmark checks memory against. */
  stats(): NetworkStats {
    let bufferedInBytes = 0;
    let bufferedOutBytes = 0;
    let readPaused = 0;
    for (const c of this.live) {
      bufferedInBytes += c.bufferedInBytes;
      bufferedOutBytes += c.bufferedOutBytes;
      if (c.readPaused) readPaused++;
    }
    return {
      connections: this.live.size,
      bufferedInBytes,
      bufferedOutBytes,
      readPaused,
      tlsHandshakesInProgress: this.handshakesTotal,
    };
  }

  track(c: TcpConnection): void {
    this.live.add(c);
  }

  untrack(c: TcpConnection): void {
    this.live.delete(c);
  }

  listen(addr: Address, onConnection: (conn: Connection) => void): Promise<Listener> {
    const server = this.security
      ? this.tlsListener(onConnection)
      : net.createServer((s) => this.accepted(s, onConnection));
    server.maxConnections = 100_000;
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new NetworkError(`cannot listen on ${formatAddress(addr)}: ${err.message}`, codeOf(err))),
      );
      server.listen({ host: addr.host, port: addr.port, backlog: 4096 }, () => {
        const a = server.address() as net.AddressInfo;
        resolve({
          address: { host: addr.host, port: a.port },
          close: () => new Promise<void>((r) => server.close(() => r())),
        });
      });
    });
  }

  connect(addr: Address, options?: { timeoutMs?: number }): Promise<Connection> {
    const security = this.security;
    const where = formatAddress(addr);
    return new Promise((resolve, reject) => {
      const socket = security
        ? tls.connect({ host: addr.host, port: addr.port, ...clientTlsOptions(security) })
        : net.connect({ host: addr.host, port: addr.port });
      const timeoutMs = options?.timeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NetworkError(`connect to ${where} timed out after ${timeoutMs} ms`, 'ETIMEDOUT'));
      }, timeoutMs);
      let tcpConnected = false;
      socket.once('connect', () => (tcpConnected = true));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const code = codeOf(err);
        if (security && (code === 'EAUTH' || tcpConnected)) {
          // Connected, then the TLS handshake failed: most often a key or certificate mismatch.
          reject(
            new NetworkError(
              `TLS handshake with ${where} failed (${sslReason(err)}): ${handshakeHint(security)}`,
              code,
            ),
          );
          return;
        }
        reject(new NetworkError(`connect to ${where}: ${err.message}`, code));
      });
      socket.once(security ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TcpConnection(socket, this, false));
      });
    });
  }

  private accepted(socket: net.Socket, onConnection: (conn: Connection) => void): void {
    onConnection(new TcpConnection(socket, this, true));
  }

  /**
   * A TCP listener that hands each connection to TLS once its first bytes show a TLS handshake. A
   * peer speaking plain frames gets a TLS alert instead, which tells a rollcall node without a
   * secret what is wrong (TcpConnection.refuseFrame) rather than a silent close.
   */
  private tlsListener(onConnection: (conn: Connection) => void): net.Server {
    const tlsServer = tls.createServer(serverTlsOptions(this.security!, this.limits.handshakeTimeoutMs));
    const inProgress = new Map<string, () => void>();
    // The TLS socket has the raw socket's remote address and port: that pairs them.
    const keyOf = (s: net.Socket): string => `${s.remoteAddress ?? '?'}:${s.remotePort ?? 0}`;
    tlsServer.on('secureConnection', (s: tls.TLSSocket) => {
      inProgress.get(keyOf(s))?.();
      this.accepted(s, onConnection);
    });
    tlsServer.on('tlsClientError', (err, s) => {
      this.log(`TLS handshake from ${s.remoteAddress ?? '?'} failed: ${sslReason(err)}`);
    });
    return net.createServer((raw) => {
      // Bound the handshakes in progress: each costs memory and CPU before the peer proved anything.
      const host = raw.remoteAddress ?? '?';
      const n = this.handshakes.get(host) ?? 0;
      if (n >= this.limits.maxHandshakesPerHost || this.handshakesTotal >= this.limits.maxHandshakes) {
        this.log(`too many TLS handshakes in progress (${n} from ${host}); refusing a connection`);
        raw.destroy();
        return;
      }
      this.handshakes.set(host, n + 1);
      this.handshakesTotal++;
      const key = keyOf(raw);
      // TLS's own handshake timeout starts when it takes the socket; this one covers the silence
      // before, and counts the connection out even if the wrapped socket never reports its close.
      const deadline = setTimeout(() => {
        done();
        raw.destroy();
      }, this.limits.handshakeTimeoutMs);
      deadline.unref();
      let counted = true;
      const done = (): void => {
        if (!counted) return;
        counted = false;
        clearTimeout(deadline);
        inProgress.delete(key);
        this.handshakesTotal--;
        const left = (this.handshakes.get(host) ?? 1) - 1;
        if (left > 0) this.handshakes.set(host, left);
        else this.handshakes.delete(host);
      };
      inProgress.set(key, done);
      raw.once('close', done);
      raw.on('error', () => {}); // reported by the TLS socket, or irrelevant before it
      raw.once('data', (first: Buffer) => {
        raw.pause();
        if (first[0] === 0x16) {
          // TLS reads what the socket already buffered when it wraps it.
          raw.unshift(first);
          tlsServer.emit('connection', raw);
          return;
        }
        this.log(`a client without TLS connected from ${host}, but this node requires TLS; closing`);
        raw.end(TLS_HANDSHAKE_FAILURE_ALERT);
        setTimeout(() => raw.destroy(), this.limits.closeFlushMs).unref();
      });
    });
  }
}
