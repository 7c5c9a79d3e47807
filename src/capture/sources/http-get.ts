// A minimal HTTP/1.1 GET whose connection is opened ahead of time and whose request goes out on
// fire() with a single socket write. Node's http client cannot hold a prepared request back (its
// end() uncorks the socket), and building requests at the instant costs tens of microseconds per
// target, which is what synchronized capture must not spend. Responses may be sized by
// Content-Length, chunked, or delimited by the connection closing.
import net from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import tls from 'node:tls';
import { epochNowMs } from '../clock.js';
import type { ArmedSource } from './types.js';

/** Largest response head (status line and headers) accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;

const EMPTY = Buffer.alloc(0);

export interface GetOutcome {
  status?: number;
  error?: string;
}

export class PreparedGet implements ArmedSource {
  readonly method = 'http' as const;
  /** Resolves with the body stream once the response head has arrived; rejects on failure before. */
  readonly body: Promise<Readable>;
  /** Resolves once the exchange is over, successfully or not. Never rejects. */
  readonly done: Promise<GetOutcome>;
  /** Epoch ms of the request's write, and of the first byte of the response. */
  requestedAtMs: number | undefined;
  firstByteAtMs: number | undefined;
  private readonly socket: net.Socket;
  private readonly request: Buffer;
  private connected = false;
  private fired = false;
  private settled = false;
  private settleDone!: (o: GetOutcome) => void;
  private resolveBody!: (r: Readable) => void;
  private rejectBody!: (e: Error) => void;
  private readonly bodyStream = new PassThrough();
  private status: number | undefined;
  // Response parsing state.
  private head: Buffer[] = [];
  private headBytes = 0;
  private mode: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'end' = 'head';
  private remaining = 0;
  private line = '';
  /** Start of an error response's body, kept for its message. */
  private errorBody = '';

  /** headers: extra request headers (e.g. Authorization), validated by the caller. */
  constructor(url: URL, headers: Record<string, string> = {}) {
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    let auth =
      url.username || url.password
        ? `Authorization: Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}\r\n`
        : '';
    for (const [name, value] of Object.entries(headers)) {
      if (/[\r\n]/.test(name + value)) throw new Error(`header ${name}: no line breaks allowed`);
      if (name.toLowerCase() === 'authorization') auth = '';
      auth += `${name}: ${value}\r\n`;
    }
    this.request = Buffer.from(
      `GET ${url.pathname || '/'}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: rollcall\r\n` +
        `Accept: text/plain, */*\r\n${auth}Connection: close\r\n\r\n`,
      'latin1',
    );
    this.done = new Promise((r) => (this.settleDone = r));
    this.body = new Promise((res, rej) => {
      this.resolveBody = res;
      this.rejectBody = rej;
    });
    this.body.catch(() => undefined);
    const onConnect = (): void => {
      this.connected = true;
      this.socket.setNoDelay(true);
      if (this.fired) this.send();
      // An empty write sends nothing, but runs (and so compiles) the write path ahead of the
      // instant: the first real write of a process is otherwise a few milliseconds slower.
      else this.socket.write(EMPTY);
    };
    this.socket =
      url.protocol === 'https:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }, onConnect)
        : net.connect({ host, port }, onConnect);
    this.socket.on('data', (b: Buffer) => this.onData(b));
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(err.code ? `${err.code}: ${err.message}` : err.message),
    );
    this.socket.on('close', () => {
      if (this.mode === 'close') this.finish();
      else if (this.mode !== 'end') this.fail('connection closed before the response ended');
    });
  }

  /** Sends the request: one write on an open connection. */
  fire(): void {
    this.fired = true;
    if (this.connected) this.send();
  }

  private send(): void {
    this.requestedAtMs = epochNowMs();
    this.socket.write(this.request);
  }

  get stream(): Promise<Readable> {
    return this.body;
  }

  kill(): void {
    this.destroy();
  }

  destroy(): void {
    this.fail('cancelled');
    this.socket.destroy();
  }

  private fail(message: string): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectBody(new Error(message));
    this.bodyStream.destroy();
    this.settleDone({ ...(this.status !== undefined ? { status: this.status } : {}), error: message });
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.mode = 'end';
    this.bodyStream.end();
    const status = this.status ?? 0;
    const excerpt = this.errorBody.trim().split('\n')[0]?.slice(0, 200) ?? '';
    this.settleDone(status >= 300 ? { status, error: `HTTP ${status}${excerpt ? `: ${excerpt}` : ''}` } : { status });
    this.socket.end();
  }

  private onData(b: Buffer): void {
    this.firstByteAtMs ??= epochNowMs();
    if (this.settled) return;
    let pos = 0;
    while (pos < b.length && !this.settled) {
      switch (this.mode) {
        case 'head':
          pos = this.readHead(b, pos);
          break;
        case 'length': {
          const n = Math.min(this.remaining, b.length - pos);
          this.emit(b.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case 'close':
          this.emit(pos === 0 ? b : b.subarray(pos));
          pos = b.length;
          break;
        case 'chunk-data': {
          const n = Math.min(this.remaining, b.length - pos);
          this.emit(b.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.mode = 'chunk-crlf';
          break;
        }
        case 'chunk-size':
        case 'chunk-crlf':
        case 'trailers':
          pos = this.readChunkLine(b, pos);
          break;
        case 'end':
          return;
      }
    }
  }

  private emit(chunk: Buffer): void {
    if ((this.status ?? 0) >= 300 && this.errorBody.length < 200) this.errorBody += chunk.toString('utf8', 0, 200);
    this.bodyStream.write(chunk);
  }

  private readHead(b: Buffer, pos: number): number {
    const rest = b.subarray(pos);
    this.head.push(rest);
    this.headBytes += rest.length;
    const all = this.head.length === 1 ? rest : Buffer.concat(this.head);
    const end = all.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.headBytes > MAX_HEAD_BYTES) this.fail(`response head over ${MAX_HEAD_BYTES} bytes`);
      return b.length;
    }
    const lines = all.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (m === null) {
      this.fail(`not an HTTP response: '${(lines[0] ?? '').slice(0, 80)}'`);
      return b.length;
    }
    const status = Number(m[1]);
    const consumed = b.length - (all.length - (end + 4));
    this.head = [];
    this.headBytes = 0;
    if (status >= 100 && status < 200) return consumed; // 100 Continue and friends: another head follows
    this.status = status;
    let length: number | undefined;
    let chunked = false;
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(':');
      if (colon <= 0) continue;
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding' && /chunked/i.test(value)) chunked = true;
    }
    this.resolveBody(this.bodyStream);
    if (chunked) this.mode = 'chunk-size';
    else if (length !== undefined && Number.isInteger(length) && length >= 0) {
      this.mode = 'length';
      this.remaining = length;
      if (length === 0) this.finish();
    } else this.mode = 'close';
    return consumed;
  }

  private readChunkLine(b: Buffer, pos: number): number {
    const nl = b.indexOf(10, pos);
    const upto = nl < 0 ? b.length : nl + 1;
    this.line += b.toString('latin1', pos, upto);
    if (this.line.length > 4096) {
      this.fail('malformed chunked response');
      return b.length;
    }
    if (nl < 0) return upto;
    const line = this.line.trim();
    this.line = '';
    if (this.mode === 'chunk-crlf') {
      if (line.length !== 0) this.fail('malformed chunked response');
      else this.mode = 'chunk-size';
    } else if (this.mode === 'chunk-size') {
      const size = parseInt(line.split(';')[0]!, 16);
      if (!Number.isInteger(size) || size < 0) this.fail('malformed chunk size');
      else if (size === 0) this.mode = 'trailers';
      else {
        this.mode = 'chunk-data';
        this.remaining = size;
      }
    } else if (line.length === 0) this.finish(); // end of trailers
    return upto;
  }
}
