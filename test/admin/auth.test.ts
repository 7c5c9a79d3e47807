// Admin listeners (/stacks, /metrics, …) beyond loopback only with authentication: a bearer token
// derived from the cluster secret, or HTTPS with a client certificate from the cluster's CA.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminReader } from '../../src/admin/client.js';
import { startAdminServer } from '../../src/admin/http.js';
import { bearerMatches } from '../../src/substrate/real/http-auth.js';
import { adminToken, NodeConfigError, startNode } from '../../src/runtime/index.js';
import { RealClock } from '../../src/substrate/real/index.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { testCert } from '../support/certs.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const secret = Buffer.from('0123456789abcdef-secret');
const token = adminToken(secret);

function registry(): ThreadRegistry {
  const threads = new ThreadRegistry('worker-1', 'worker', process.pid, new RealClock());
  threads.spawn('main');
  return threads;
}

describe('adminToken', () => {
  it('is hex HMAC-SHA256 keyed with the secret bytes over "rollcall admin v1"', () => {
    // Computed independently: python3 -c "import hmac,hashlib; print(hmac.new(b'0123456789abcdef-secret',
    //   b'rollcall admin v1', hashlib.sha256).hexdigest())"
    expect(token).toBe('885e2a7902e3c33f61e6ed821e8cf506def603c914279f8bbc8f19acc9a62847');
  });

  it('is compared whole', () => {
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token.slice(0, -1)}`, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token}0`, token)).toBe(false);
    expect(bearerMatches(token, token)).toBe(false);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches('Bearer ', token)).toBe(false);
  });
});

describe('an admin listener with a token', () => {
  it('answers only requests that carry it', async () => {
    const admin = await startAdminServer('127.0.0.1', 0, { threads: registry() }, { token });
    cleanups.push(() => admin.close());
    for (const path of ['/stacks', '/stacks?format=json', '/metrics', '/nope']) {
      const none = await fetch(`${admin.url}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="rollcall"');
      expect((await fetch(`${admin.url}${path}`, { headers: { authorization: 'Bearer 00' } })).status).toBe(401);
    }
    const ok = await fetch(`${admin.url}/stacks`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('node=worker-1 role=worker');

    // The detector's reader sends it when it has it.
    const reader = new AdminReader(undefined, { token });
    cleanups.push(() => reader.close());
    expect((await reader.dump(admin.url)).node).toBe('worker-1');
    const anonymous = new AdminReader();
    cleanups.push(() => anonymous.close());
    await expect(anonymous.dump(admin.url)).rejects.toThrow(/HTTP 401/);
  });
});

describe('the loopback rule for admin listeners', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rollcall-admin-'));
    writeFileSync(join(dir, 'secret'), secret, { mode: 0o600 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const start = (admin: string, secretFile?: string) =>
    startNode({
      role: 'master',
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: admin, port: 0 },
      dataDir: join(dir, `data-${Math.random()}`),
      ...(secretFile ? { security: { secretFile } } : {}),
      log: () => {},
    });

  it('refuses to serve /stacks beyond loopback without authentication', async () => {
    const err = await start('0.0.0.0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeConfigError);
    expect((err as Error).message).toMatch(
      /refusing to listen for the admin listener \(\/stacks\) on 0\.0\.0\.0 without authentication/,
    );
  });

  it('serves beyond loopback with a secret, to requests with its token only', async () => {
    const node = await start('0.0.0.0', join(dir, 'secret'));
    cleanups.push(() => node.stop());
    const url = node.admin.replace('0.0.0.0', '127.0.0.1');
    expect((await fetch(`${url}/stacks`)).status).toBe(401);
    expect((await fetch(`${url}/stacks`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});

describe('an admin listener with certificates', () => {
  it('serves HTTPS to a client certificate from the CA, or to the token', async () => {
    const tls = testCert('node-1');
    const admin = await startAdminServer('127.0.0.1', 0, { threads: registry() }, { token, tls });
    cleanups.push(() => admin.close());
    expect(admin.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const withCert = new AdminReader(undefined, { tls: testCert('node-2') });
    cleanups.push(() => withCert.close());
    expect((await withCert.dump(admin.url)).node).toBe('worker-1');
    // Trusting the server, with a certificate another CA signed: refused, unless it has the token.
    const rogue = testCert('rogue-1');
    const intruder = new AdminReader(undefined, { tls: rogue });
    cleanups.push(() => intruder.close());
    await expect(intruder.dump(admin.url)).rejects.toThrow(/HTTP 401/);
    const withToken = new AdminReader(undefined, { tls: rogue, token });
    cleanups.push(() => withToken.close());
    expect((await withToken.dump(admin.url)).node).toBe('worker-1');
  });
});
