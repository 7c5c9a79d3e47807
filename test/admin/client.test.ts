// AdminReader: the online detector's reads of every node's admin listener, on kept connections,
// each bounded in time and size.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminReader, MAX_ADMIN_RESPONSE_BYTES } from '../../src/admin/client.js';
import { startAdminServer } from '../../src/admin/http.js';
import { RealClock } from '../../src/substrate/real/index.js';
import { ThreadRegistry } from '../../src/threads/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function rawServer(handler: http.RequestListener): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const s = http.createServer(handler);
  s.on('connection', () => connections++);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, connections: () => connections };
}

describe('AdminReader', () => {
  it('reads a node dump round after round on one kept connection', async () => {
    const threads = new ThreadRegistry('worker-1', 'worker', process.pid, new RealClock());
    threads.spawn('main');
    const admin = await startAdminServer('127.0.0.1', 0, { threads });
    cleanups.push(() => admin.close());
    const reader = new AdminReader();
    cleanups.push(() => reader.close());
    const raw = await rawServer((_req, res) => res.end(JSON.stringify({ ok: true })));
    for (let i = 0; i < 5; i++) {
      const d = await reader.dump(admin.url);
      expect(d.node).toBe('worker-1');
      expect(d.threads.map((t) => t.name)).toContain('main');
      expect(await reader.getJson(raw.url)).toEqual({ ok: true });
    }
    expect(raw.connections()).toBe(1); // kept alive: one connection for five rounds
  });

  it('rejects an error status, a silent node and an oversized answer, each with the reason', async () => {
    const reader = new AdminReader(300);
    cleanups.push(() => reader.close());
    const notFound = await rawServer((_req, res) => res.writeHead(404).end('no'));
    await expect(reader.dump(notFound.url)).rejects.toThrow(/HTTP 404/);
    const silent = await rawServer(() => undefined);
    await expect(reader.dump(silent.url)).rejects.toThrow(/no answer within 300 ms/);
    const big = Buffer.alloc(64 * 1024, 0x20);
    const huge = await rawServer((_req, res) => {
      let sent = 0;
      const more = (): void => {
        while (sent <= MAX_ADMIN_RESPONSE_BYTES) {
          sent += big.length;
          if (!res.write(big)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    await expect(reader.getJson(huge.url)).rejects.toThrow(/larger than/);
    const garbage = await rawServer((_req, res) => res.end('{"cut'));
    await expect(reader.getJson(garbage.url)).rejects.toThrow(/not JSON/);
  });
});
