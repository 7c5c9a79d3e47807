// Random and garbled traffic against a live RPC server, plain and TLS: bytes, frame headers of any
// length, frames of random JSON, hellos with odd names followed by junk, TLS-looking records. Every
// connection must end by the server's own doing (a refusal, the login deadline, the idle timeout),
// and what the server buffers for them stays under its per-connection bounds.
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONNECTION_LIMITS } from '../../src/rpc/index.js';
import { securityOf } from '../../src/runtime/index.js';
import { realSubstrate, type LinkSecurity, type RealSubstrate } from '../../src/substrate/real/index.js';
import { until } from '../support/gate.js';
import { startTestServer } from '../support/rpc-server.js';

const LOGIN_MS = 150;
const IDLE_MS = 200;
/** A case whose connection the server has not closed by then is a failure. */
const CLOSE_LIMIT_MS = 5_000;
/** Per connection: at most one frame under the pre-login limit, plus one socket read (64 KiB). */
const IN_BOUND_BYTES = DEFAULT_SERVER_CONNECTION_LIMITS.preLoginMaxFrameBytes + 4 + 64 * 1024;

function frame(body: Uint8Array, length = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, length >>> 0);
  out.set(body, 4);
  return out;
}
const text = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

/** One attacker connection's bytes, written in chunks. */
const traffic: fc.Arbitrary<Uint8Array[]> = fc.oneof(
  fc.array(fc.uint8Array({ maxLength: 4096 }), { minLength: 1, maxLength: 4 }),
  fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 2048 }))
    .map(([len, body]) => [frame(body, len)]),
  fc.array(
    fc.jsonValue().map((v) => frame(text(v))),
    { minLength: 1, maxLength: 4 },
  ),
  fc
    .tuple(
      fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue()),
      fc.array(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            t: fc.constant('req'),
            id: fc.jsonValue(),
            m: fc.string(),
            a: fc.jsonValue(),
            cn: fc.jsonValue(),
            ct: fc.jsonValue(),
          }),
        ),
        { maxLength: 4 },
      ),
    )
    .map(([node, rest]) => [frame(text({ t: 'hello', node })), ...rest.map((m) => frame(text(m)))]),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }))
    .map(([node, methods]) => [
      frame(text({ t: 'hello', node })),
      ...methods.map((m, i) => frame(text({ t: 'req', id: i + 1, m, a: null, cn: node, ct: 1 }))),
    ]),
  fc
    .tuple(fc.constantFrom(0x14, 0x15, 0x16, 0x17), fc.uint8Array({ maxLength: 1024 }))
    .map(([type, rest]) => [Uint8Array.from([type, 0x03, 0x03, rest.length >> 8, rest.length & 0xff]), rest]),
);

interface Live {
  substrate: RealSubstrate;
  port: number;
  stop(): Promise<void>;
}

async function serve(security: LinkSecurity | undefined): Promise<Live> {
  const substrate = realSubstrate({
    ...(security ? { security } : {}),
    log: () => {},
    limits: { handshakeTimeoutMs: LOGIN_MS },
  });
  const { server, addr } = await startTestServer(substrate, {
    limits: { loginTimeoutMs: LOGIN_MS, idleTimeoutMs: IDLE_MS },
  });
  return { substrate, port: addr.port, stop: () => server.stop() };
}

/** Sends the chunks and resolves once the server has closed the connection; rejects past the limit. */
function attack(live: Live, chunks: Uint8Array[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: live.port });
    let peakInBytes = 0;
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${CLOSE_LIMIT_MS} ms`));
    }, CLOSE_LIMIT_MS);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.once('connect', () => {
      for (const c of chunks) if (!socket.destroyed) socket.write(c);
      peakInBytes = Math.max(peakInBytes, live.substrate.network.stats().bufferedInBytes);
    });
    socket.once('close', () => {
      clearTimeout(limit);
      peakInBytes = Math.max(peakInBytes, live.substrate.network.stats().bufferedInBytes);
      resolve(peakInBytes);
    });
  });
}

describe.each([
  ['plain TCP', undefined],
  ['TLS-PSK', securityOf(Buffer.from('fuzzing the cluster secret, 32b!')).link],
] as const)('fuzzed traffic against a live server over %s', (_label, security) => {
  let live: Live;
  beforeAll(async () => {
    live = await serve(security);
  });
  afterAll(() => live.stop());

  it('every connection is closed by the server, holding at most its bound', async () => {
    await fc.assert(
      fc.asyncProperty(traffic, async (chunks) => {
        const peak = await attack(live, chunks);
        expect(peak).toBeLessThanOrEqual(IN_BOUND_BYTES);
      }),
      { numRuns: security ? 60 : 120 },
    );
    // Several at once, too: nothing is left open or buffered afterwards.
    const cases = fc.sample(traffic, { numRuns: 24, seed: 16 });
    const peaks = await Promise.all(cases.map((c) => attack(live, c)));
    expect(Math.max(...peaks)).toBeLessThanOrEqual(cases.length * IN_BOUND_BYTES);
    const stats = () => live.substrate.network.stats();
    // The server's side of a close completes a moment after the client's.
    await until(
      () => stats().connections === 0 && stats().tlsHandshakesInProgress === 0,
      'all closed',
      LOGIN_MS + 2000,
    );
    expect(stats().bufferedInBytes).toBe(0);
  });
});
