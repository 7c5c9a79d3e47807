// The admin listener: a plain HTTP server beside each node's RPC server, sharing nothing with
// its handler pools, so a node whose handlers are all stuck still answers /stacks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ThreadRegistry, PoolSnapshot } from '../threads/index.js';
import { formatDumpText } from '../threads/index.js';

export interface AdminRoutes {
  threads: ThreadRegistry;
  /** Extra JSON endpoints, e.g. /waits for the online detector. */
  extra?: Record<string, () => unknown>;
}

export interface AdminServer {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startAdminServer(host: string, port: number, routes: AdminRoutes): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://admin');
      if (req.method !== 'GET') {
        res.writeHead(405, { 'content-type': 'text/plain' }).end('only GET\n');
        return;
      }
      if (url.pathname === '/stacks') {
        const dump = routes.threads.dump();
        if (url.searchParams.get('format') === 'json') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(dump));
        } else {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(formatDumpText(dump));
        }
        return;
      }
      if (url.pathname === '/metrics') {
        const pools: PoolSnapshot[] = routes.threads.dump().pools;
        const body = {
          node: routes.threads.node,
          role: routes.threads.role,
          pools: pools.map(({ queued: _queued, ...rest }) => rest),
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      const extra = routes.extra?.[url.pathname];
      if (extra) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(extra()));
        return;
      }
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /stacks, /stacks?format=json, /metrics\n');
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    host,
    port: addr.port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
