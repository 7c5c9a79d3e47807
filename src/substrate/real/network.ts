import net from 'node:net';
import { NetworkError, type Address, type Connection, type Listener, type Network } from '../types.js';

const HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export type FrameErrorLogger = (message: string) => void;

/** Length-prefixed frames (4-byte big-endian length) over a TCP socket. */
class TcpConnection implements Connection {
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private closeHandler: ((error: Error | undefined) => void) | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private corked = false;
  private closeError: Error | undefined;
  private closeReported = false;
  closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly maxFrameBytes: number,
    private readonly log: FrameErrorLogger,
  ) {
    socket.setNoDelay(true);
    this.localAddress = { host: socket.localAddress ?? '?', port: socket.localPort ?? 0 };
    this.remoteAddress = { host: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeError ??= new NetworkError(err.message, codeOf(err));
    });
    socket.on('close', () => {
      this.closed = true;
      this.reportClose();
    });
  }

  send(frame: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (frame.byteLength > this.maxFrameBytes) {
      this.fail(`refusing to send a ${frame.byteLength}-byte frame (limit ${this.maxFrameBytes})`);
      return false;
    }
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32BE(frame.byteLength, 0);
    // Coalesce all frames sent in one tick into one write: many small calls, few syscalls.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(header);
    this.socket.write(frame);
    return true;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
  }

  onClose(handler: (error: Error | undefined) => void): void {
    this.closeHandler = handler;
    if (this.closed) this.reportClose();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    this.socket.destroy();
  }

  private reportClose(): void {
    if (this.closeReported || !this.closeHandler) return;
    this.closeReported = true;
    this.closeHandler(this.closeError);
  }

  private fail(message: string): void {
    this.log(`${message}; closing connection to ${this.remoteAddress.host}:${this.remoteAddress.port}`);
    this.closeError = new NetworkError(message, 'EFRAME');
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= HEADER_BYTES && !this.closed) {
      const head = this.pending[0]!.length >= HEADER_BYTES ? this.pending[0]! : this.flatten();
      const length = head.readUInt32BE(0);
      if (length > this.maxFrameBytes) {
        this.fail(`received a frame of ${length} bytes (limit ${this.maxFrameBytes})`);
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
        this.fail(`frame handler failed: ${(err as Error).message}`);
        return;
      }
    }
  }

  private flatten(): Buffer {
    const b = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [b];
    return b;
  }
}

function codeOf(err: NodeJS.ErrnoException): NetworkError['code'] {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
      return err.code;
    default:
      return 'EOTHER';
  }
}

export class TcpNetwork implements Network {
  constructor(
    private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
    private readonly log: FrameErrorLogger = (m) => process.stderr.write(`rollcall: ${m}\n`),
  ) {}

  listen(addr: Address, onConnection: (conn: Connection) => void): Promise<Listener> {
    const server = net.createServer((socket) => onConnection(new TcpConnection(socket, this.maxFrameBytes, this.log)));
    server.maxConnections = 100_000;
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new NetworkError(`cannot listen on ${addr.host}:${addr.port}: ${err.message}`, codeOf(err))),
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
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: addr.host, port: addr.port });
      const timeoutMs = options?.timeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NetworkError(`connect to ${addr.host}:${addr.port} timed out after ${timeoutMs} ms`, 'ETIMEDOUT'));
      }, timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new NetworkError(`connect to ${addr.host}:${addr.port}: ${err.message}`, codeOf(err)));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TcpConnection(socket, this.maxFrameBytes, this.log));
      });
    });
  }
}
