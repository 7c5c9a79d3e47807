// Links are TLS: keyed from the cluster secret (TLS 1.2 ECDHE-PSK) or with certificates (mutual
// TLS). A peer without the key or a certificate from the cluster's CA gets no further than the
// handshake, with an error that says why, and is not retried.
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/rpc/index.js';
import { securityOf } from '../../src/runtime/index.js';
import { realSubstrate, type LinkSecurity, type RealSubstrate } from '../../src/substrate/real/index.js';
import { NetworkError } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { certSecurity } from '../support/certs.js';
import { startTestServer } from '../support/rpc-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const secret = Buffer.from('correct horse battery staple, 32b');
const other = Buffer.from('another cluster entirely, 32 bytes');

async function server(security: LinkSecurity | undefined, logs: string[] = []) {
  const substrate = realSubstrate({ ...(security ? { security } : {}), log: (m) => logs.push(m) });
  const s = await startTestServer(substrate, { log: (m) => logs.push(m) });
  cleanups.push(() => s.server.stop());
  return { addr: s.addr, substrate, logs };
}

function call(security: LinkSecurity | undefined, addr: { host: string; port: number }, retries = 0) {
  const substrate: RealSubstrate = realSubstrate({ ...(security ? { security } : {}), log: () => {} });
  const rpc = new RpcClient({ node: 'cli', substrate, timeoutMs: 5000 });
  cleanups.push(() => rpc.close());
  const thread = new ThreadRegistry('cli', 'client', substrate.pid, substrate.clock).spawn('main');
  return rpc.call({ node: 'srv', addr }, 'T.echo', 'hi', { thread, retries, retryPauseMs: 1 });
}

const psk = (s: Buffer): LinkSecurity => securityOf(s).link!;

describe('TLS keyed from the cluster secret', () => {
  it('carries calls between nodes that share the secret', async () => {
    const s = await server(psk(secret));
    expect(await call(psk(secret), s.addr)).toBe('hi');
  });

  it('refuses a peer with another secret, once, naming the likely cause', async () => {
    const s = await server(psk(secret));
    const err = await call(psk(other), s.addr, 5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).code).toBe('EAUTH');
    expect((err as Error).message).toMatch(
      /^TLS handshake with 127\.0\.0\.1:\d+ failed \(.+\): does the peer use the same cluster secret\?$/,
    );
    // Not retried: one failed handshake on the server, though 5 retries were allowed.
    expect(s.logs.filter((l) => l.startsWith('TLS handshake from 127.0.0.1 failed'))).toHaveLength(1);
  });

  it('tells a node without a secret that its peer speaks TLS, and the other way round', async () => {
    const secured = await server(psk(secret));
    const plain = await call(undefined, secured.addr, 5).catch((e: unknown) => e);
    expect((plain as NetworkError).code).toBe('EAUTH');
    expect((plain as Error).message).toMatch(/the peer speaks TLS: pass the cluster secret \(--secret-file\)/);
    expect(secured.logs.join('\n')).toMatch(/a client without TLS connected from 127\.0\.0\.1/);

    const open = await server(undefined);
    const tlsToPlain = await call(psk(secret), open.addr, 5).catch((e: unknown) => e);
    expect((tlsToPlain as NetworkError).code).toBe('EAUTH');
    expect(open.logs.join('\n')).toMatch(/a TLS client connected, but this node has no cluster secret/);
  });
});

describe('mutual TLS with certificates', () => {
  it('carries calls between nodes whose certificates the cluster CA signed', async () => {
    const s = await server(certSecurity('node-1'));
    expect(await call(certSecurity('node-2'), s.addr)).toBe('hi');
  });

  it('refuses a client, or a server, whose certificate another CA signed', async () => {
    const s = await server(certSecurity('node-1'));
    const client = await call(certSecurity('rogue-1', 'rogue-ca'), s.addr).catch((e: unknown) => e);
    expect(client).toBeInstanceOf(NetworkError);
    expect((client as Error).message).toMatch(/TLS handshake with 127\.0\.0\.1:\d+ failed/);
    // Even one that trusts the cluster's CA: its own certificate is what the server checks.
    const trusting = await call(certSecurity('rogue-1', 'ca'), s.addr).catch((e: unknown) => e);
    expect(trusting).toBeInstanceOf(NetworkError);
    await expect(call(certSecurity('node-3'), s.addr)).resolves.toBe('hi');

    const fake = await server(certSecurity('rogue-2', 'rogue-ca'));
    const err = await call(certSecurity('node-2'), fake.addr).catch((e: unknown) => e);
    expect((err as NetworkError).code).toBe('EAUTH');
    expect((err as Error).message).toMatch(/is the peer's certificate signed by --tls-ca/);
  });
});
