// An RPC server: framed calls over a substrate network, routed by method to named handler pools.
import type { Address, Connection, Listener, Substrate } from '../substrate/types.js';
import { formatAddress } from '../substrate/types.js';
import type { LogicalThread, PoolSnapshot, ThreadRegistry } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { RpcError, UnknownMethodError, toWireError, type WireError } from './errors.js';
import {
  ConnectionLedger,
  DEFAULT_SERVER_CONNECTION_LIMITS,
  InboundConnection,
  type ServerConnectionLimits,
} from './inbound.js';
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
  /** Login, idle and connection-count limits (DEFAULT_SERVER_CONNECTION_LIMITS for the rest). */
  limits?: Partial<ServerConnectionLimits>;
  log?: (message: string) => void;
}

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
  private readonly ledger: ConnectionLedger;
  private listener: Listener | undefined;
  private stopped = false;
  private readonly log: (message: string) => void;
  private boundPort = 0;

  constructor(private readonly options: RpcServerOptions) {
    this.log = options.log ?? (() => {});
    assert(options.pools.length > 0, 'an RPC server needs at least one pool');
    const limits = { ...DEFAULT_SERVER_CONNECTION_LIMITS, ...options.limits };
    assert(limits.preLoginMaxFrameBytes <= limits.maxFrameBytes, 'pre-login frame limit above the frame limit');
    assert(limits.loginTimeoutMs > 0 && limits.idleTimeoutMs > 0, 'login and idle timeouts must be positive');
    this.ledger = new ConnectionLedger(limits);
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
    const host = conn.remoteAddress.host;
    const admitted = this.stopped ? { ok: false as const, reason: 'server stopped' } : this.ledger.admit(host);
    if (!admitted.ok) {
      this.log(
        `${this.options.node}: refusing a connection from ${formatAddress(conn.remoteAddress)}: ${admitted.reason}`,
      );
      conn.close();
      return;
    }
    this.connections.add(conn);
    const inbound = new InboundConnection(conn, this.options.substrate.clock, this.ledger.limits, (why) => {
      this.log(`${this.options.node}: closing a connection: ${why}`);
      conn.close();
    });
    conn.onClose(() => {
      this.connections.delete(conn);
      inbound.closed();
      this.ledger.release(host, inbound.peer);
    });
    conn.onFrame((frame) => {
      inbound.touch();
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
      if (!inbound.loggedIn) {
        this.login(inbound, msg);
        return;
      }
      if (msg.t !== 'req' || !isRequest(msg)) {
        this.log(`${this.options.node}: unexpected '${String(msg.t)}' from ${inbound.peer}; closing`);
        conn.close();
        return;
      }
      this.onRequest(inbound, msg);
    });
  }

  /** The first frame must be a hello naming the peer; it is welcomed unless the peer has too many connections. */
  private login(inbound: InboundConnection, msg: { t: string; node?: unknown }): void {
    const conn = inbound.conn;
    const from = formatAddress(conn.remoteAddress);
    const limits = this.ledger.limits;
    if (
      msg.t !== 'hello' ||
      typeof msg.node !== 'string' ||
      msg.node.length === 0 ||
      msg.node.length > limits.maxNodeNameChars
    ) {
      this.log(`${this.options.node}: connection from ${from} sent no valid hello; closing`);
      conn.close();
      return;
    }
    const verdict = this.ledger.login(conn.remoteAddress.host, msg.node);
    if (!verdict.ok) {
      this.log(`${this.options.node}: refusing ${msg.node} from ${from}: ${verdict.reason}`);
      const e: WireError = {
        type: 'TooManyConnections',
        message: `${this.options.node} refused: ${verdict.reason}`,
        retryable: true,
      };
      conn.send(encode({ t: 'res', id: 0, e }));
      conn.close();
      return;
    }
    inbound.loggedInAs(msg.node);
    conn.send(encode({ t: 'welcome', node: this.options.node }));
  }

  private onRequest(inbound: InboundConnection, req: RequestMessage): void {
    const conn = inbound.conn;
    inbound.callStarted();
    let replied = false;
    const reply = (res: ResponseMessage): void => {
      // Encoded first: a result that cannot be encoded throws to the handler's catch, which answers with the error.
      const bytes = encode(res);
      assert(!replied, `call ${req.id} answered twice`);
      replied = true;
      inbound.callEnded();
      if (!conn.closed) conn.send(bytes);
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

function isRequest(m: { id?: unknown; m?: unknown; cn?: unknown; ct?: unknown }): boolean {
  return typeof m.id === 'number' && typeof m.m === 'string' && typeof m.cn === 'string' && typeof m.ct === 'number';
}
