// The relay attack: a fake server sits between a real client and a real master, relays what each
// sends, and tries to use the client's login for calls of its own. With the old HMAC handshake it
// was welcomed and read the cluster status; over TLS it sees only ciphertext, and a frame it slips
// into the stream ends the connection instead of reaching the master's handlers.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MASTER_METHODS } from '../../src/cluster/index.js';
import { RpcClient } from '../../src/rpc/index.js';
import { securityOf, startLocalCluster } from '../../src/runtime/index.js';
import { realSubstrate } from '../../src/substrate/real/index.js';
import { NetworkError } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Relay {
  port: number;
  /** Bytes the master sent towards the client, as the relay saw them. */
  fromMaster(): Buffer;
  fromClient(): Buffer;
  /** Writes the attacker's own bytes into the stream towards the master. */
  inject(bytes: Buffer): void;
  masterClosed: Promise<void>;
}

async function startRelay(master: { host: string; port: number }): Promise<Relay> {
  const down: Buffer[] = [];
  const up: Buffer[] = [];
  let upstream: net.Socket | undefined;
  let closed!: () => void;
  const masterClosed = new Promise<void>((r) => (closed = r));
  const server = net.createServer((client) => {
    const m = net.connect(master);
    upstream = m;
    client.on('data', (b: Buffer) => {
      up.push(b);
      m.write(b);
    });
    m.on('data', (b: Buffer) => {
      down.push(b);
      client.write(b);
    });
    m.on('close', () => {
      closed();
      client.destroy();
    });
    client.on('close', () => m.destroy());
    m.on('error', () => {});
    client.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        upstream?.destroy();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    fromMaster: () => Buffer.concat(down),
    fromClient: () => Buffer.concat(up),
    inject: (b) => upstream!.write(b),
    masterClosed,
  };
}

function rollcallFrame(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

describe('a fake server relaying between a real client and a real master', () => {
  it('never gets in: it reads no frame, and a frame it slips in ends the connection', async () => {
    const security = securityOf(Buffer.from('the real cluster secret, 32 bytes!'));
    const lc = await startLocalCluster({ workers: 1, admin: false, security, log: () => {} });
    cleanups.push(() => lc.stop());
    const master = lc.cluster.master;
    const relay = await startRelay(master.address);

    // The real client, pointed at the fake server, works as if nothing were in between...
    const substrate = realSubstrate({ security: security.link!, log: () => {} });
    const rpc = new RpcClient({ node: 'client', substrate, timeoutMs: 5000 });
    cleanups.push(() => rpc.close());
    const thread = new ThreadRegistry('client', 'client', substrate.pid, substrate.clock).spawn('main');
    const status = await rpc.call<{ members: { name: string }[] }>(
      { node: 'master', addr: { host: '127.0.0.1', port: relay.port } },
      MASTER_METHODS.getClusterStatus,
      null,
      { thread },
    );
    expect(status.members.map((m) => m.name)).toEqual(['worker-1']);

    // ...but the relay saw no frame: no method name, no node name, no status in either direction.
    for (const seen of [relay.fromClient(), relay.fromMaster()]) {
      for (const word of ['getClusterStatus', 'hello', 'worker-1', '"members"', 'master']) {
        expect(seen.includes(word), `relay read '${word}'`).toBe(false);
      }
    }

    // Its own call, slipped into the logged-in stream, is not a valid TLS record: the master
    // drops the connection without serving it.
    const servedBefore = master.server.metrics().find((p) => p.name === 'priority')!.completed;
    relay.inject(rollcallFrame({ t: 'req', id: 424242, m: MASTER_METHODS.getClusterStatus, a: null, cn: 'x', ct: 1 }));
    await relay.masterClosed;
    expect(relay.fromMaster().includes('424242')).toBe(false);
    expect(master.server.metrics().find((p) => p.name === 'priority')!.completed).toBe(servedBefore);

    // Connecting to the master itself, without the secret, it is refused at the handshake.
    const plain = new RpcClient({ node: 'attacker', substrate: realSubstrate({ log: () => {} }), timeoutMs: 5000 });
    cleanups.push(() => plain.close());
    const err = await plain
      .call({ node: 'master', addr: master.address }, MASTER_METHODS.getClusterStatus, null, {
        thread: new ThreadRegistry('attacker', 'client', process.pid, substrate.clock).spawn('main'),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).code).toBe('EAUTH');
  });
});
