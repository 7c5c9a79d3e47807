// A dump of a remote JVM through the rollcall agent on its host. Ahead of the instant the agent's
// clock is read (GET /clock: offset = agent time − the midpoint of the round trip) and the dump is
// requested for the instant on the agent's clock; the agent takes it there, at that instant, so
// network jitter adds no skew. Its answer carries the agent-side instants, converted back here.
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { ZodType } from 'zod';
import { epochNowMs, roundUs } from '../clock.js';
import {
  clockAnswerSchema,
  jvmListSchema,
  readyAnswerSchema,
  stacksAnswerSchema,
  type AgentJvmList,
} from '../agent/protocol.js';
import type { ArmedSource, SourceOutcome } from './types.js';

/** Room for JSON escaping around a dump of maxBytes, plus the CPU sample. */
const answerBytes = (maxBytes: number): number => maxBytes * 2 + 32 * 1024 * 1024;
const SMALL_ANSWER_BYTES = 16 * 1024 * 1024;

export interface AgentRequestOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  maxBytes: number;
}

/** GETs url and parses its JSON answer with schema; rejects with a one-line reason. */
export function getJson<T>(
  url: URL,
  schema: ZodType<T>,
  headers: Record<string, string>,
  timeoutMs: number,
  maxBytes = SMALL_ANSWER_BYTES,
  signal?: AbortSignal,
  agent: http.Agent | false = false,
): Promise<{ value: T; sentAtMs: number; receivedAtMs: number }> {
  return new Promise((resolveGet, rejectGet) => {
    const mod = url.protocol === 'https:' ? https : http;
    const sentAtMs = epochNowMs();
    const req = mod.get(url, { headers, timeout: timeoutMs, agent, ...(signal ? { signal } : {}) }, (res) => {
      const receivedAtMs = epochNowMs();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy(new Error(`answer over ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          const hint = res.statusCode === 401 ? ' (wrong or missing secret: --secret-file)' : '';
          return rejectGet(new Error(`agent: HTTP ${res.statusCode}${hint}: ${text.trim().slice(0, 200)}`));
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return rejectGet(new Error('agent: answer is not JSON'));
        }
        const r = schema.safeParse(parsed);
        if (!r.success) return rejectGet(new Error(`agent: unexpected answer (${r.error.issues[0]?.message})`));
        resolveGet({ value: r.data, sentAtMs, receivedAtMs });
      });
      res.on('error', (err) => rejectGet(new Error(`agent: ${err.message}`)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      rejectGet(new Error(`agent ${url.host}: ${err.code ? `${err.code}: ` : ''}${err.message}`)),
    );
  });
}

/** The agent's list of its JVMs. */
export async function listAgentJvms(
  agentUrl: URL,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<AgentJvmList> {
  return (await getJson(new URL('/jvms', agentUrl), jvmListSchema, headers, timeoutMs)).value;
}

/** Clock readings per measurement; the one with the shortest round trip bounds the offset best. */
export const CLOCK_SAMPLES = 2;

/**
 * Offsets being measured, by agent and instant: every JVM of one agent in one round shares one
 * measurement, so all its dumps are asked for the very same instant on the agent's clock (and are
 * released there together); separate measurements would differ by their error.
 */
const sharedOffsets = new Map<string, Promise<{ offsetMs: number; rttMs: number }>>();
const MAX_SHARED_OFFSETS = 10_000;

function sharedClockOffset(
  base: URL,
  atMs: number,
  headers: Record<string, string>,
  timeoutMs: number,
  agent: http.Agent,
): Promise<{ offsetMs: number; rttMs: number }> {
  const key = `${base.href} ${atMs}`;
  let p = sharedOffsets.get(key);
  if (p === undefined) {
    if (sharedOffsets.size >= MAX_SHARED_OFFSETS) sharedOffsets.clear();
    p = measureClockOffset(base, headers, timeoutMs, undefined, agent);
    sharedOffsets.set(key, p);
    // Forgotten once the instant has passed (or the measurement failed).
    const forget = (): void =>
      void setTimeout(() => sharedOffsets.delete(key), Math.max(0, atMs - epochNowMs()) + 1000).unref();
    p.then(forget, forget);
  }
  return p;
}

/**
 * The agent's clock minus ours, NTP-style: its reading minus the midpoint of our send and
 * receive, from the exchange with the shortest round trip (error at most half that round trip).
 */
export async function measureClockOffset(
  base: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
  agent?: http.Agent,
): Promise<{ offsetMs: number; rttMs: number }> {
  let best: { offsetMs: number; rttMs: number } | undefined;
  for (let i = 0; i < CLOCK_SAMPLES; i++) {
    const c = await getJson(new URL('clock', base), clockAnswerSchema, headers, timeoutMs, undefined, signal, agent);
    const rttMs = c.receivedAtMs - c.sentAtMs;
    if (best === undefined || rttMs < best.rttMs) {
      best = { offsetMs: c.value.nowMs - (c.sentAtMs + c.receivedAtMs) / 2, rttMs };
    }
  }
  return best!;
}

/** Asks the agent to get a JVM ready (start its attach listener) ahead of the first instant. */
export async function readyAgentJvm(
  spec: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<string | undefined> {
  const { base, pid } = agentTargetParts(spec);
  const r = await getJson(new URL(`jvms/${pid}/ready`, base), readyAnswerSchema, headers, timeoutMs);
  return r.value.error;
}

/** `http://host:port/jvms/<pid>` → its agent's base URL and the pid. */
export function agentTargetParts(spec: string): { base: URL; pid: number } {
  const u = new URL(spec);
  const m = /^(.*)\/jvms\/(\d+)$/.exec(u.pathname);
  if (m === null) throw new Error(`not an agent JVM URL: ${spec}`);
  return { base: new URL(`${m[1] || ''}/`, u), pid: Number(m[2]) };
}

export class ArmedAgent implements ArmedSource {
  readonly method = 'agent' as const;
  readonly stream: Promise<Readable>;
  readonly done: Promise<SourceOutcome>;
  requestedAtMs: number | undefined;
  firstByteAtMs: number | undefined;
  private killed = false;
  private readonly abort = new AbortController();

  constructor(spec: string, atMs: number, options: AgentRequestOptions) {
    let resolveStream!: (r: Readable) => void;
    let rejectStream!: (e: Error) => void;
    this.stream = new Promise((res, rej) => {
      resolveStream = res;
      rejectStream = rej;
    });
    this.stream.catch(() => undefined);
    this.done = this.run(spec, atMs, options).then(
      (o) => {
        if (o.dump !== undefined) resolveStream(Readable.from([o.dump]));
        else rejectStream(new Error(o.outcome.error ?? 'no dump'));
        return o.outcome;
      },
      (err: Error) => {
        rejectStream(err);
        return { error: this.killed ? 'cancelled' : err.message };
      },
    );
  }

  /** The request left ahead of the instant; the agent fires at the instant itself. */
  fire(): void {}

  kill(): void {
    this.killed = true;
    this.abort.abort();
  }

  private async run(
    spec: string,
    atMs: number,
    o: AgentRequestOptions,
  ): Promise<{ outcome: SourceOutcome; dump?: Buffer }> {
    const { base, pid } = agentTargetParts(spec);
    const signal = this.abort.signal;
    // One kept-alive connection for the clock readings and the request: no set-up in between.
    const agent = new (base.protocol === 'https:' ? https : http).Agent({ keepAlive: true, maxSockets: 1 });
    try {
      return await this.exchange(base, pid, atMs, o, signal, agent);
    } finally {
      agent.destroy();
    }
  }

  private async exchange(
    base: URL,
    pid: number,
    atMs: number,
    o: AgentRequestOptions,
    signal: AbortSignal,
    agent: http.Agent,
  ): Promise<{ outcome: SourceOutcome; dump?: Buffer }> {
    const headers = o.headers;
    const { offsetMs, rttMs } = await sharedClockOffset(base, atMs, headers, o.timeoutMs, agent);
    if (this.killed) throw new Error('cancelled');
    const url = new URL(`jvms/${pid}/stacks`, base);
    url.searchParams.set('at', (atMs + offsetMs).toFixed(3));
    url.searchParams.set('timeoutMs', String(o.timeoutMs));
    url.searchParams.set('maxBytes', String(o.maxBytes));
    const answer = (
      await getJson(
        url,
        stacksAnswerSchema,
        headers,
        o.timeoutMs + Math.max(0, atMs - epochNowMs()),
        answerBytes(o.maxBytes),
        signal,
        agent,
      )
    ).value;
    const local = (agentMs: number | undefined): number | undefined =>
      agentMs === undefined ? undefined : roundUs(agentMs - offsetMs);
    this.requestedAtMs = local(answer.requestedAtMs);
    this.firstByteAtMs = local(answer.firstByteAtMs);
    const outcome: SourceOutcome = {
      ...(answer.error !== undefined ? { error: answer.error } : {}),
      ...(answer.status !== undefined ? { status: answer.status } : {}),
      ...(answer.cpu !== undefined ? { cpu: { ...answer.cpu, atMs: roundUs(answer.cpu.atMs - offsetMs) } } : {}),
      record: {
        pid: answer.pid,
        agentMethod: answer.method,
        clockOffsetMs: roundUs(offsetMs),
        clockRttMs: roundUs(rttMs),
      },
    };
    return answer.dump !== undefined && answer.error === undefined
      ? { outcome, dump: Buffer.from(answer.dump, 'utf8') }
      : { outcome };
  }
}
