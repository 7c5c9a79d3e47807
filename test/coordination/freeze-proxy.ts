// A loopback TCP proxy that can go silent: freeze() stops forwarding on every connection open at
// that moment, in both directions, without closing anything, as a network path that blackholes
// packets does (a half-open connection). Connections made later flow normally.
import net from 'node:net';

export interface FreezeProxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  freeze(): void;
  close(): Promise<void>;
}

export async function startFreezeProxy(targetPort: number): Promise<FreezeProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; frozen: boolean }>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    const pair = { client, upstream, frozen: false };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket): void => {
      from.on('data', (b: Buffer) => {
        if (!pair.frozen) to.write(b);
      });
      from.on('end', () => {
        if (!pair.frozen) to.end();
      });
      from.on('error', () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => {
      if (!pair.frozen) upstream.destroy();
      pairs.delete(pair);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    freeze() {
      for (const p of pairs) p.frozen = true;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
