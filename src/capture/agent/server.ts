// `rollcall agent`: a small HTTP server on each host that serves that host's JVMs to a capture
// running elsewhere (protocol.ts). A dump is requested ahead of its instant and taken here, at
// that instant, through the attach protocol, with the JVM's per-thread CPU — so network jitter
// between the capturing host and this one adds nothing to a round's skew.
//
// It only ever dumps JVMs (a pid proven to be a HotSpot JVM, as local capture does) and lists
// them; it runs no command it is given. With a cluster secret every request must carry
// `Authorization: Bearer <adminToken(secret)>`; without one it listens on loopback only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { CaptureRecord } from '../../dumps/bundle.js';
import { adminToken, bearerMatches, isLoopbackHost } from '../../substrate/real/http-auth.js';
import { captureOne, type CaptureEnv } from '../capture-one.js';
import { epochNowMs, roundUs, sleepUntil, untilOrBefore } from '../clock.js';
import {
  inspectJvm,
  jvmMatches,
  listJvms,
  type DiscoveryContext,
  type JvmInfo,
  type JvmMatcher,
} from '../jvm/discovery.js';
import { MAX_CAPTURE_BYTES, PREPARE_LEAD_MS } from '../round.js';
import { createRunner, type JvmMethod, type TargetRunner } from '../runners.js';
import { InstantBatches } from '../scheduler.js';
import { MemorySink } from '../sink.js';
import { findJvmTool } from '../sources/process.js';
import { AGENT_VERSION, MAX_AT_AHEAD_MS, type AgentStacksAnswer } from './protocol.js';

/** Dumps being taken (or waiting for their instant) at once. */
/** A configuration the agent refuses to run with (the CLI reports it as bad usage). */
export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

export const MAX_AGENT_CAPTURES = 256;
/** JVMs whose attach state the agent keeps. */
export const MAX_AGENT_JVMS = 1000;
const MAX_URL_CHARS = 2048;
/** Connections open at once (each costs a socket and a little memory before it authenticates). */
const MAX_CONNECTIONS = 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 600_000;
/** A client has this long to send its request head. */
const HEADERS_TIMEOUT_MS = 10_000;

export interface AgentOptions {
  host: string;
  port: number;
  /** The cluster secret: required to listen beyond loopback. */
  secret?: Buffer;
  jvmMethod?: JvmMethod;
  socketWaitMs?: number;
  threadCpu?: boolean;
  /** Serve only the JVMs these match (main class or command line); default: every JVM. */
  serve?: JvmMatcher[];
  discovery?: DiscoveryContext;
  /** One line per request served (the CLI prints them with --verbose). */
  log?: (line: string) => void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class CaptureAgent {
  private readonly runners = new Map<number, TargetRunner>();
  private readonly token: string | undefined;
  private readonly cancel = new AbortController();
  private readonly env: CaptureEnv;
  private inFlight = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly options: AgentOptions,
  ) {
    this.token = options.secret !== undefined ? adminToken(options.secret) : undefined;
    this.env = {
      batches: new InstantBatches(this.cancel.signal),
      signal: this.cancel.signal,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      maxBytes: MAX_CAPTURE_BYTES,
    };
  }

  /** Starts listening; throws AgentConfigError for a non-loopback address without a secret. */
  static async start(options: AgentOptions): Promise<CaptureAgent> {
    if (options.secret === undefined && !isLoopbackHost(options.host)) {
      throw new AgentConfigError(
        `refusing to listen for the capture agent on ${options.host} without authentication: pass --secret-file FILE, or listen on 127.0.0.1`,
      );
    }
    const server = http.createServer();
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = HEADERS_TIMEOUT_MS;
    server.maxHeadersCount = 50;
    server.maxConnections = MAX_CONNECTIONS;
    const agent = new CaptureAgent(server, options);
    server.on('request', (req, res) => void agent.handle(req, res));
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', rejectListen);
      server.listen(options.port, options.host, () => {
        server.off('error', rejectListen);
        resolveListen();
      });
    });
    return agent;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  async close(): Promise<void> {
    this.cancel.abort();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    for (const r of this.runners.values()) r.close();
    this.runners.clear();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const receivedAtMs = epochNowMs();
    try {
      if (this.token !== undefined && !bearerMatches(req.headers.authorization, this.token)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'unauthorized: send Authorization: Bearer <token derived from the cluster secret>');
      }
      if (req.method !== 'GET') throw new HttpError(405, 'only GET');
      if ((req.url ?? '').length > MAX_URL_CHARS) throw new HttpError(414, 'URL too long');
      const url = new URL(req.url ?? '/', 'http://agent');
      let body: unknown;
      if (url.pathname === '/clock') body = { nowMs: roundUs(epochNowMs()) };
      else if (url.pathname === '/jvms') body = this.jvms();
      else {
        const m = /^\/jvms\/(\d{1,10})\/(stacks|ready)$/.exec(url.pathname);
        if (m === null)
          throw new HttpError(
            404,
            'not found: GET /clock, /jvms, /jvms/<pid>/ready or /jvms/<pid>/stacks?at=<epoch ms>',
          );
        body =
          m[2] === 'ready'
            ? await this.ready(Number(m[1]))
            : await this.stacks(Number(m[1]), url.searchParams, receivedAtMs, req);
      }
      send(res, 200, body);
      this.options.log?.(`${req.method} ${url.pathname} 200`);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      send(res, status, { error: (err as Error).message });
      this.options.log?.(`${req.method} ${req.url} ${status}: ${(err as Error).message}`);
    }
  }

  private jvms(): { host: string; jvms: JvmInfo[] } {
    return { host: hostname(), jvms: listJvms(this.options.discovery).filter((j) => this.serves(j)) };
  }

  private serves(j: JvmInfo): boolean {
    const m = this.options.serve;
    return m === undefined || m.length === 0 || m.some((x) => jvmMatches(x, j));
  }

  /** A pid this agent may dump: any pid without --jvm-match, else one that matches now. */
  private checkServed(pid: number): void {
    if (this.options.serve === undefined || this.options.serve.length === 0) return;
    let jvm: JvmInfo;
    try {
      jvm = inspectJvm(pid, this.options.discovery);
    } catch (err) {
      throw new HttpError(404, (err as Error).message);
    }
    if (!this.serves(jvm))
      throw new HttpError(403, `pid ${pid} is not one of the JVMs this agent serves (--jvm-match)`);
  }

  /** Starts the JVM's attach listener now, so that its first dump costs what every dump costs. */
  private async ready(pid: number): Promise<{ ready: boolean; error?: string }> {
    this.checkServed(pid);
    const runner = this.runner(pid);
    if (runner.busy) return { ready: true };
    await runner.setup();
    const error = runner.problem();
    return error === undefined ? { ready: true } : { ready: false, error };
  }

  private async stacks(
    pid: number,
    q: URLSearchParams,
    receivedAtMs: number,
    req: http.IncomingMessage,
  ): Promise<AgentStacksAnswer> {
    const atMs = numberParam(q, 'at', undefined);
    if (atMs - receivedAtMs > MAX_AT_AHEAD_MS) throw new HttpError(400, `at is more than ${MAX_AT_AHEAD_MS} ms ahead`);
    const timeoutMs = numberParam(q, 'timeoutMs', DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
    const maxBytes = numberParam(q, 'maxBytes', MAX_CAPTURE_BYTES, 1, MAX_CAPTURE_BYTES);
    this.checkServed(pid);
    const runner = this.runner(pid);
    if (runner.busy) throw new HttpError(409, `a dump of pid ${pid} is already being taken`);
    if (this.inFlight >= MAX_AGENT_CAPTURES) throw new HttpError(503, `more than ${MAX_AGENT_CAPTURES} dumps at once`);
    this.inFlight++;
    runner.busy = true; // claimed until captureOne takes over
    const gone = new AbortController();
    req.socket.once('close', () => gone.abort());
    try {
      await sleepUntil(atMs - PREPARE_LEAD_MS, this.cancel.signal);
      const setup = runner.setup();
      if (setup !== undefined) await untilOrBefore(setup, atMs - 1, this.cancel.signal);
      runner.busy = false;
      const rec: CaptureRecord = { node: String(pid), round: 0, scheduledAt: atMs };
      const env: CaptureEnv = {
        ...this.env,
        signal: AbortSignal.any([this.cancel.signal, gone.signal]),
        timeoutMs,
        maxBytes,
      };
      const out = await captureOne(runner, rec, atMs, new MemorySink(), env);
      this.options.log?.(
        `pid ${pid}: asked ${(atMs - receivedAtMs).toFixed(1)} ms ahead, requested ${((rec.requestedAtMs ?? NaN) - atMs).toFixed(3)} ms after the instant${rec.error ? `: ${rec.error}` : ''}`,
      );
      return {
        version: AGENT_VERSION,
        pid,
        method: rec.method ?? 'attach',
        atMs,
        receivedAtMs: roundUs(receivedAtMs),
        ...(rec.requestedAtMs !== undefined ? { requestedAtMs: rec.requestedAtMs } : {}),
        ...(rec.firstByteAtMs !== undefined ? { firstByteAtMs: rec.firstByteAtMs } : {}),
        finishedAtMs: rec.finishedAt ?? roundUs(epochNowMs()),
        ...(rec.status !== undefined ? { status: rec.status } : {}),
        ...(rec.error !== undefined ? { error: rec.error } : {}),
        ...(out.data !== undefined && rec.error === undefined ? { dump: out.data.toString('utf8') } : {}),
        bytes: out.data?.length ?? 0,
        ...(out.cpu !== undefined ? { cpu: out.cpu } : {}),
      };
    } finally {
      runner.busy = false;
      this.inFlight--;
    }
  }

  /** The runner of a pid, kept across requests (its attach listener, its CPU sampler). */
  private runner(pid: number): TargetRunner {
    let r = this.runners.get(pid);
    if (r !== undefined) return r;
    if (this.runners.size >= MAX_AGENT_JVMS) {
      const idle = [...this.runners].find(([, x]) => !x.busy);
      if (idle === undefined) throw new HttpError(503, `more than ${MAX_AGENT_JVMS} JVMs`);
      idle[1].close();
      this.runners.delete(idle[0]);
    }
    const method = this.options.jvmMethod ?? 'auto';
    r = createRunner(
      { name: String(pid), kind: 'jvm', spec: String(pid), dir: '' },
      {
        jvmMethod: method,
        jvmTool: findJvmTool(process.env, method === 'jcmd' || method === 'jstack' ? method : undefined),
        headers: {},
        timeoutMs: DEFAULT_TIMEOUT_MS,
        maxBytes: MAX_CAPTURE_BYTES,
        threadCpu: this.options.threadCpu ?? process.platform === 'linux',
        ...(this.options.socketWaitMs !== undefined ? { socketWaitMs: this.options.socketWaitMs } : {}),
        ...(this.options.discovery !== undefined ? { discovery: this.options.discovery } : {}),
      },
    );
    this.runners.set(pid, r);
    return r;
  }
}

function numberParam(
  q: URLSearchParams,
  name: string,
  dflt: number | undefined,
  min = -Infinity,
  max = Infinity,
): number {
  const v = q.get(name);
  if (v === null) {
    if (dflt === undefined) throw new HttpError(400, `missing ?${name}=`);
    return dflt;
  }
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new HttpError(400, `${name} must be a number from ${min} to ${max}`);
  return n;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
