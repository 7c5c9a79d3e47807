// Reads many nodes' admin listeners over and over (the online detector, every 250 ms) on kept-alive
// connections: opening a connection per node per round, as fetch() does here, measured about
// twice the cost of the round itself on a 61-node cluster. Every read is bounded in time and size.
import http from 'node:http';
import https from 'node:https';
import type { NodeDump } from '../threads/types.js';
import type { AdminAuth } from './http.js';

/** A dump larger than this is refused: rollcall's own are a few KB per node. */
export const MAX_ADMIN_RESPONSE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_ADMIN_READ_TIMEOUT_MS = 2_000;

export class AdminReader {
  // One connection per node, reused round after round.
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly tlsAgent: https.Agent;
  private readonly headers: Record<string, string>;

  /** auth: the token to send, and certificates for HTTPS listeners (the same as the nodes'). */
  constructor(
    private readonly timeoutMs = DEFAULT_ADMIN_READ_TIMEOUT_MS,
    auth: AdminAuth = {},
  ) {
    this.headers = auth.token !== undefined ? { authorization: `Bearer ${auth.token}` } : {};
    this.tlsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 1,
      ...(auth.tls
        ? {
            cert: Buffer.from(auth.tls.cert),
            key: Buffer.from(auth.tls.key),
            ca: Buffer.from(auth.tls.ca),
            // As for RPC links: membership is the CA's signature, not a host name.
            checkServerIdentity: () => undefined,
          }
        : {}),
    });
  }

  /** GET ADMIN_URL/stacks?format=json. Rejects on a non-200 answer, a timeout or an oversized body. */
  dump(adminUrl: string): Promise<NodeDump> {
    return this.getJson(`${adminUrl}/stacks?format=json`) as Promise<NodeDump>;
  }

  getJson(url: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const secure = url.startsWith('https:');
      const get = secure ? https.get : http.get;
      const req = get(url, { agent: secure ? this.tlsAgent : this.agent, headers: this.headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`${url}: HTTP ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes > MAX_ADMIN_RESPONSE_BYTES) {
            req.destroy(new Error(`${url}: response larger than ${MAX_ADMIN_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(new Error(`${url}: not JSON: ${(err as Error).message}`));
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`${url}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
    });
  }

  /** Closes the kept connections (they would otherwise keep a CLI process alive). */
  close(): void {
    this.agent.destroy();
    this.tlsAgent.destroy();
  }
}
