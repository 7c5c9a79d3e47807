// The admin listener: an HTTP server beside each node's RPC server, sharing nothing with its
// handler pools, so a node whose handlers are all stuck still answers /stacks. A node with a
// secret requires a bearer token on every request; with certificates it serves HTTPS and also
// accepts a client certificate signed by the cluster's CA. Without either it is loopback-only
// (runtime/secrets.ts checkListenPolicy).
import { bearerMatches } from '../substrate/real/http-auth.js';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ThreadRegistry } from '../threads/index.js';
import { formatDumpText } from '../threads/index.js';
import { nodeMetricsText } from './metrics.js';

export interface AdminRoutes {
  threads: ThreadRegistry;
  /** Extra JSON endpoints, e.g. /waits for the online detector. */
  extra?: Record<string, () => unknown>;
}

/** How an admin listener authenticates requests; empty: it does not (loopback only). */
export interface AdminAuth {
  /** Required as `Authorization: Bearer <token>` (runtime/secrets.ts adminToken). */
  token?: string;
  /** Serve HTTPS; a client certificate signed by `ca` is accepted in place of the token. */
  tls?: { cert: Uint8Array; key: Uint8Array; ca: Uint8Array };
}

/** Bounds on what a client (authenticated or not) can hold on an admin listener. */
export const ADMIN_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
} as const;

export interface AdminServer {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startAdminServer(
  host: string,
  port: number,
  routes: AdminRoutes,
  auth: AdminAuth = {},
): Promise<AdminServer> {
  const handler: http.RequestListener = (req, res) => {
    try {
      if (!authorized(req, auth)) {
        res
          .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="rollcall"' })
          .end('authentication required: Authorization: Bearer <token derived from the cluster secret>\n');
        return;
      }
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
        const dump = routes.threads.dump();
        if (url.searchParams.get('format') === 'json') {
          const body = {
            node: dump.node,
            role: dump.role,
            pools: dump.pools.map(({ queued: _queued, ...rest }) => rest),
          };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
          return;
        }
        nodeMetricsText(dump).then(
          (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
        );
        return;
      }
      const extra = routes.extra?.[url.pathname];
      if (extra) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(extra()));
        return;
      }
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /stacks, /stacks?format=json, /metrics, /metrics?format=json\n');
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  };
  const server = auth.tls
    ? https.createServer(
        {
          cert: Buffer.from(auth.tls.cert),
          key: Buffer.from(auth.tls.key),
          ca: Buffer.from(auth.tls.ca),
          minVersion: 'TLSv1.2',
          // Asked for, not required: a request may carry the token instead.
          requestCert: true,
          rejectUnauthorized: false,
        },
        handler,
      )
    : http.createServer(handler);
  server.keepAliveTimeout = ADMIN_LIMITS.keepAliveTimeoutMs;
  server.headersTimeout = ADMIN_LIMITS.headersTimeoutMs;
  server.requestTimeout = ADMIN_LIMITS.requestTimeoutMs;
  server.maxConnections = ADMIN_LIMITS.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    host,
    port: addr.port,
    url: `${auth.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function authorized(req: http.IncomingMessage, auth: AdminAuth): boolean {
  if (auth.token === undefined && auth.tls === undefined) return true;
  if (auth.tls && (req.socket as TLSSocket).authorized === true) return true;
  return auth.token !== undefined && bearerMatches(req.headers.authorization, auth.token);
}
