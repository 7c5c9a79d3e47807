// An RPC server: framed calls over a substrate network, routed by method to named handler pools.
import type { Address, Connection, Listener, Substrate } from '../substrate/types.js';
import { formatAddress } from '../substrate/types.js';
import type { LogicalThread, PoolSnapshot, ThreadRegistry } from '../threads/index.js';
import { assert } from '../util/assert.js';
import type { Authenticator } from './auth.js';
import { RpcError, UnknownMethodError, toWireError } from './errors.js';
import { decode, encode, type RequestMessage, type ResponseMessage } from './messages.js';
import { HandlerPool, type PoolConfig } from './pool.js';

export interface CallContext {
  /** The handler thread serving this call: pass it to nested calls and waits. */
  thread: LogicalThread;
  callId: number;
  method: string;
  callerNode: string;
  callerThreadId: number;
}

export type MethodHandler = (args: unknown, ctx: CallContext) => Promise<unknown>;

export interface RpcServerOptions {
  node: string;
  substrate: Substrate;
  threads: ThreadRegistry;
  listen: Address;
  pools: PoolConfig[];
  auth?: Authenticator;
  /** Bound on open connections; more are closed at once. */
  maxConnections?: number;
  log?: (message: string) => void;
}

export const DEFAULT_MAX_CONNECTIONS = 20_000;

interface MethodEntry {
  pool: string;
  handler: MethodHandler;
  /** Frame pushed while the handler runs, e.g. rollcall.cluster.MasterRpcServices.execProcedure. */
  frame: string;
}

export class RpcServer {
  private readonly pools = new Map<string, HandlerPool>();
  private readonly methods = new Map<string, MethodEntry>();
  private readonly connections = new Set<Connection>();
  private listener: Listener | undefined;
  private stopped = false;
  private readonly log: (message: string) => void;
  private boundPort = 0;

  constructor(private readonly options: RpcServerOptions) {
    this.log = options.log ?? (() => {});
    assert(options.pools.length > 0, 'an RPC server needs at least one pool');
  }

  /** Routes `method` to `pool`; `frame` names the code that serves it in dumps. */
  register(method: string, pool: string, handler: MethodHandler, frame?: string): void {
    assert(!this.methods.has(method), `method ${method} registered twice`);
    assert(
      this.options.pools.some((p) => p.name === pool),
      `method ${method}: no pool named ${pool}`,
    );
    this.methods.set(method, { pool, handler, frame: frame ?? method });
  }

  async start(): Promise<Address> {
    assert(!this.listener, 'server already started');
    this.listener = await this.options.substrate.network.listen(this.options.listen, (c) => this.accept(c));
    this.boundPort = this.listener.address.port;
    for (const cfg of this.options.pools) {
      this.pools.set(
        cfg.name,
        new HandlerPool(
          cfg,
          this.boundPort,
          this.options.threads,
          this.options.substrate.clock,
          this.options.substrate.random,
          this.log,
        ),
      );
    }
    return this.listener.address;
  }

  get address(): Address {
    assert(this.listener, 'server not started');
    return this.listener.address;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Which pool serves each method, and pool sizes: the predictor's routing table. */
  routes(): { method: string; pool: string }[] {
    return [...this.methods].map(([method, e]) => ({ method, pool: e.pool }));
  }

  poolConfigs(): readonly PoolConfig[] {
    return this.options.pools;
  }

  metrics(): PoolSnapshot[] {
    return [...this.pools.values()].map((p) => p.snapshot());
  }

  pool(name: string): HandlerPool | undefined {
    return this.pools.get(name);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of this.connections) c.close();
    this.connections.clear();
    await this.listener?.close();
  }

  private accept(conn: Connection): void {
    if (this.stopped || this.connections.size >= (this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) {
      conn.close();
      return;
    }
    this.connections.add(conn);
    conn.onClose(() => this.connections.delete(conn));
    const auth = this.options.auth;
    const nonce = auth ? auth.nonce() : '';
    let peer: string | undefined;
    conn.onFrame((frame) => {
      let msg;
      try {
        msg = decode(frame);
      } catch (err) {
        this.log(
          `${this.options.node}: malformed frame from ${formatAddress(conn.remoteAddress)}: ${(err as Error).message}; closing`,
        );
        conn.close();
        return;
      }
      if (peer === undefined) {
        if (msg.t !== 'hello' || typeof msg.node !== 'string') {
          this.log(`${this.options.node}: connection from ${formatAddress(conn.remoteAddress)} sent no hello; closing`);
          conn.close();
          return;
        }
        if (auth && (typeof msg.proof !== 'string' || !auth.verify(nonce, msg.node, msg.proof))) {
          this.log(
            `${this.options.node}: rejected ${msg.node} from ${formatAddress(conn.remoteAddress)}: wrong cluster secret`,
          );
          conn.send(
            encode({
              t: 'res',
              id: 0,
              e: { type: 'Auth', message: 'authentication failed: wrong cluster secret', retryable: false },
            }),
          );
          conn.close();
          return;
        }
        peer = msg.node;
        conn.send(encode({ t: 'welcome', node: this.options.node }));
        return;
      }
      if (msg.t !== 'req') {
        this.log(`${this.options.node}: unexpected '${msg.t}' from ${peer}; closing`);
        conn.close();
        return;
      }
      this.onRequest(conn, msg);
    });
    conn.send(encode({ t: 'challenge', nonce }));
  }

  private onRequest(conn: Connection, req: RequestMessage): void {
    const reply = (res: ResponseMessage): void => {
      if (!conn.closed) conn.send(encode(res));
    };
    const entry = this.methods.get(req.m);
    if (!entry) {
      reply({ t: 'res', id: req.id, e: toWireError(new UnknownMethodError(req.m)) });
      return;
    }
    const ctxBase = { callId: req.id, method: req.m, callerNode: req.cn, callerThreadId: req.ct };
    try {
      // Pools are created at start() because handler names carry the bound port.
      const pool = this.pools.get(entry.pool);
      assert(pool, `pool ${entry.pool} missing`);
      pool.dispatch({
        callId: req.id,
        method: req.m,
        callerNode: req.cn,
        callerThreadId: req.ct,
        queue: -1,
        enqueuedAtMs: this.options.substrate.clock.nowMs(),
        run: async (thread) => {
          thread.serving = { ...ctxBase, sinceMs: this.options.substrate.clock.nowMs() };
          try {
            const result = await thread.run('rollcall.rpc.CallRunner.run', () =>
              thread.run(entry.frame, () => entry.handler(req.a, { ...ctxBase, thread })),
            );
            reply({ t: 'res', id: req.id, r: result === undefined ? null : result });
          } catch (err) {
            reply({ t: 'res', id: req.id, e: toWireError(err) });
          } finally {
            thread.serving = null;
          }
        },
      });
    } catch (err) {
      if (err instanceof RpcError) reply({ t: 'res', id: req.id, e: toWireError(err) });
      else throw err;
    }
  }
}
