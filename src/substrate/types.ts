// The I/O boundary. Protocol code (threads, rpc, barrier, cluster) receives a Substrate and never
// touches Node's timers, sockets or files itself, so the same code runs over real TCP and inside
// the deterministic simulator. Nothing here may mention a Node type.

/** Cancels a timer; cancelling twice or after it fired is a no-op. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds (fractional). Only differences are meaningful. */
  nowMs(): number;
  /** Wall-clock epoch milliseconds, for reports and records only — never for timeouts. */
  wallMs(): number;
  /** Runs fn once after delayMs (>= 0). */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/** A host:port pair. Hosts are plain strings so the simulator can use node names. */
export interface Address {
  host: string;
  port: number;
}

/** A bidirectional stream of whole frames. The substrate does the framing. */
export interface Connection {
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  /** Queues a frame; returns false after close. Frames arrive in order or not at all. */
  send(frame: Uint8Array): boolean;
  /**
   * Sets the largest frame accepted from now on (a bigger one closes the connection at its header,
   * before its body is buffered), capped at the network's own limit. A server keeps it small until
   * the peer has logged in.
   */
  setMaxFrameBytes(bytes: number): void;
  /** Called once per received frame; set before frames can be lost. */
  onFrame(handler: (frame: Uint8Array) => void): void;
  /** Called exactly once when the connection ends, with the cause if it was an error. */
  onClose(handler: (error: Error | undefined) => void): void;
  close(): void;
  readonly closed: boolean;
}

export interface Listener {
  readonly address: Address;
  close(): Promise<void>;
}

export interface NetworkOptions {
  /** Largest frame accepted or sent; a bigger one closes the connection. */
  maxFrameBytes: number;
}

export interface Network {
  /** Listens on addr (port 0 picks a free port; see Listener.address). */
  listen(addr: Address, onConnection: (conn: Connection) => void): Promise<Listener>;
  /** Connects, or rejects with a NetworkError. */
  connect(addr: Address, options?: { timeoutMs?: number }): Promise<Connection>;
}

/** An open file that only grows at its end (WAL segments, the backup table log). */
export interface AppendFile {
  readonly path: string;
  /** Bytes written so far, including unsynced ones. */
  readonly size: number;
  append(data: Uint8Array): Promise<void>;
  /** Makes everything appended so far durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface Disk {
  mkdirp(path: string): Promise<void>;
  /** Opens for appending, creating the file if missing. */
  openAppend(path: string): Promise<AppendFile>;
  readFile(path: string): Promise<Uint8Array>;
  /** Writes a whole file durably (write, fsync, close). */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Names (not paths) in a directory, sorted; [] when the directory is missing. */
  list(dir: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** Cuts a file to size bytes and makes that durable. */
  truncate(path: string, size: number): Promise<void>;
  /** Size in bytes, or undefined when missing. */
  size(path: string): Promise<number | undefined>;
}

/** A seeded or real source of randomness; [0, 1). */
export interface Random {
  next(): number;
}

export interface Substrate {
  readonly clock: Clock;
  readonly network: Network;
  readonly disk: Disk;
  readonly random: Random;
  /** Process id shown in dumps (the real pid, or a simulated one). */
  readonly pid: number;
}

export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: 'ECONNREFUSED' | 'ETIMEDOUT' | 'ECONNRESET' | 'EFRAME' | 'EAUTH' | 'EOTHER',
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

export function formatAddress(addr: Address): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** Parses HOST:PORT or [V6]:PORT; throws a readable error on bad input. */
export function parseAddress(text: string): Address {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new Error(`not a HOST:PORT address: '${text}'`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port out of range in '${text}'`);
  return { host: m[1]!, port };
}

/** Joins path parts with '/'; protocol code must not import node:path. */
export function joinPath(...parts: string[]): string {
  return parts
    .filter((p) => p.length > 0)
    .join('/')
    .replace(/\/{2,}/g, '/');
}
