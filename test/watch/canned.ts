// Nodes for watch tests that answer /stacks with rollcall dumps the test chooses: a quiet cluster
// (every handler idle) or the legacy hang (every master default handler
// holding a worker's check on a nested call queued behind them; test/diagnose/rollcall-cluster.ts).
// Each node has its own HTTP listener, so one can be taken down (connection refused), brought back
// on the same port, or made to hang (accepts, never answers).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TargetSpec } from '../../src/capture/index.js';
import type { NodeDump } from '../../src/threads/types.js';
import { legacyCluster } from '../diagnose/rollcall-cluster.js';

export type CannedState = 'healthy' | 'deadlock';

export interface CannedNodes {
  names: string[];
  targets: TargetSpec[];
  /** Master default handlers in the deadlocked state. */
  handlers: number;
  set(state: CannedState): void;
  /** Closes the node's listener: its captures are refused until up(). */
  down(name: string): Promise<void>;
  /** Listens again on the same port. */
  up(name: string): Promise<void>;
  /** The node accepts requests and never answers them (until up()). */
  hang(name: string): void;
  /** /stacks requests answered per node. */
  served(name: string): number;
  close(): Promise<void>;
}

/** The same cluster between barriers: every handler idle, nothing queued, only timers waiting. */
function quiet(dumps: NodeDump[]): NodeDump[] {
  return dumps.map((d) => ({
    ...d,
    threads: d.threads.filter((t) => t.state === 'IDLE' || t.wait?.kind === 'timer'),
    pools: d.pools.map((p) => ({
      ...p,
      busy: 0,
      idle: p.size,
      queued: [],
      queuedTotal: 0,
      queueLengths: p.queueLengths.map(() => 0),
    })),
  }));
}

export async function startCannedNodes(workers = 6): Promise<CannedNodes> {
  const handlers = workers - 1;
  let state: CannedState = 'healthy';
  let tick = 0;
  const names = ['master', ...Array.from({ length: workers }, (_, i) => `w${i + 1}`)];
  const dumps = () =>
    state === 'healthy'
      ? quiet(legacyCluster({ workers, handlers, queues: 2, starved: true }, tick))
      : legacyCluster({ workers, handlers, queues: 2, starved: true }, tick);
  const hanging = new Set<string>();
  const served = new Map<string, number>();
  const sockets = new Map<string, Set<Socket>>();
  const servers = new Map<string, http.Server>();
  const ports = new Map<string, number>();
  const make = (name: string, index: number): http.Server => {
    const server = http.createServer((req, res) => {
      if (hanging.has(name)) return;
      if (name === 'master') tick++;
      served.set(name, (served.get(name) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(dumps()[index]));
    });
    const open = new Set<Socket>();
    sockets.set(name, open);
    server.on('connection', (s) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    return server;
  };
  const listen = (name: string, port: number): Promise<void> => {
    const server = make(name, names.indexOf(name));
    servers.set(name, server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        ports.set(name, (server.address() as AddressInfo).port);
        resolve();
      });
    });
  };
  const stop = async (name: string): Promise<void> => {
    const server = servers.get(name);
    if (server === undefined) return;
    servers.delete(name);
    for (const s of sockets.get(name) ?? []) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  for (const n of names) await listen(n, 0);
  return {
    names,
    handlers,
    targets: names.map((name) => ({ name, kind: 'url', spec: `http://127.0.0.1:${ports.get(name)}/stacks` })),
    set: (s) => void (state = s),
    down: (name) => stop(name),
    up: async (name) => {
      hanging.delete(name);
      if (!servers.has(name)) await listen(name, ports.get(name)!);
    },
    hang: (name) => void hanging.add(name),
    served: (name) => served.get(name) ?? 0,
    close: async () => {
      for (const n of names) await stop(n);
    },
  };
}
