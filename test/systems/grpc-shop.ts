// A real gRPC-java system for tests (fixtures/grpc, Debian's libgrpc-java 1.41): an orders server
// on `Executors.newFixedThreadPool(pool)` (threads `pool-N-thread-M`), an inventory server on
// gRPC's default executor, and a load client — three JVMs. `Orders/Place` reserves stock with a
// blocking call to `Inventory/Reserve`; in `nested` mode `Reserve` calls back `Orders/Audit` with a
// blocking stub, into the orders pool. At load ≥ pool every orders thread holds a `Place` waiting on
// a `Reserve` waiting on an `Audit` queued behind them: a thread-starvation deadlock across the two
// servers that only the deadline (default 300 s) ends. Below that the system is healthy.
//
//   const shop = await startGrpcShop({ pool: 8, mode: 'nested', load: 4 });
//   try {
//     await shop.waitForCompleted(50);      // healthy: orders complete
//     await shop.load(16);
//     await shop.waitForStalled();          // the deadlock has formed (the orders server says so)
//     ... capture shop.servers() (name + pid: 'orders', 'inventory') ...
//     await shop.restart({ load: 4 });      // fresh JVMs, healthy again
//   } finally {
//     await shop.stop();                    // always kills every JVM it started
//   }
//
// The Java sources and the .proto are compiled at first use (protoc + Debian's grpc_java_plugin,
// then javac) into fixtures/grpc/build/<source hash>. Every JVM also exits when its stdin closes.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync } from 'node:fs';
import { requireTool } from '../support/environment.js';
import {
  SMALL_JVM_FLAGS,
  buildCached,
  commandWorks,
  filesUnder,
  killAll,
  launch,
  runTool,
  type LaunchedProcess,
} from './jvm.js';

export const GRPC_FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/grpc/', import.meta.url));
const JAVA_DIR = '/usr/share/java';
/** Debian's jars the fixture compiles and runs against (libgrpc-java and what it depends on). */
const JARS = [
  'grpc-api',
  'grpc-core',
  'grpc-context',
  'grpc-stub',
  'grpc-protobuf',
  'grpc-protobuf-lite',
  'grpc-netty',
  'netty-buffer',
  'netty-codec',
  'netty-codec-http',
  'netty-codec-http2',
  'netty-codec-socks',
  'netty-common',
  'netty-handler',
  'netty-handler-proxy',
  'netty-resolver',
  'netty-transport',
  'netty-transport-native-unix-common',
  'guava',
  'perfmark-api',
  'protobuf',
  'error_prone_annotations',
  'jsr305',
].map((j) => join(JAVA_DIR, `${j}.jar`));
/** Debian installs protoc-gen-grpc-java under this name (protobuf-compiler-grpc-java-plugin). */
const GRPC_PLUGIN = '/usr/bin/grpc_java_plugin';
const PACKAGE = 'com.example.shop';
export const GRPC_DEFAULT_DEADLINE_MS = 300_000;
const START_TIMEOUT_MS = 40_000;

/** What is missing for the gRPC fixture, or undefined when everything is there. */
export function grpcToolsMissing(): string | undefined {
  if (!commandWorks('javac', ['-version']) || !commandWorks('java', ['-version'])) return 'a JDK (17 or later)';
  if (!commandWorks('protoc', ['--version'])) return "protoc (Debian's protobuf-compiler)";
  if (!existsSync(GRPC_PLUGIN)) return 'protoc-gen-grpc-java (Debian: protobuf-compiler-grpc-java-plugin)';
  const jar = JARS.find((j) => !existsSync(j));
  if (jar !== undefined)
    return `${jar} (Debian: libgrpc-java, libnetty-java, libguava-java, libperfmark-java, libprotobuf-java)`;
  return undefined;
}

/** Whether the gRPC tests can run here: skipped with a warning locally, an error in CI. */
export function grpcForTests(): boolean {
  const missing = grpcToolsMissing();
  return requireTool('gRPC-java fixture', missing === undefined, `missing ${missing}; .ci/setup-system installs it`);
}

/** Compiles the .proto and the Java sources once per source content; returns the class path. */
export function compileGrpcFixture(): string {
  const sources = filesUnder(GRPC_FIXTURE_DIR, ['.proto', '.java']).filter((f) => !f.includes('/build/'));
  const out = buildCached(GRPC_FIXTURE_DIR, sources, join(GRPC_FIXTURE_DIR, 'build'), (tmp) => {
    const gen = join(tmp, 'generated');
    const classes = join(tmp, 'classes');
    mkdirSync(gen, { recursive: true });
    mkdirSync(classes, { recursive: true });
    const protos = sources.filter((f) => f.endsWith('.proto'));
    runTool('protoc', [
      `--plugin=protoc-gen-grpc-java=${GRPC_PLUGIN}`,
      `--java_out=${gen}`,
      `--grpc-java_out=${gen}`,
      `-I${join(GRPC_FIXTURE_DIR, 'proto')}`,
      ...protos,
    ]);
    const java = [...filesUnder(gen, ['.java']), ...sources.filter((f) => f.endsWith('.java'))];
    runTool('javac', ['--release', '17', '-nowarn', '-cp', JARS.join(':'), '-d', classes, ...java]);
  });
  return [join(out, 'classes'), ...JARS].join(':');
}

export interface GrpcShopOptions {
  /** Orders pool threads (Executors.newFixedThreadPool); default 8. */
  pool?: number;
  /** 'nested' (default): Reserve calls back Orders/Audit; 'fixed': it does not. */
  mode?: 'nested' | 'fixed';
  /** Concurrent Place callers at start; default 0 (call load() later). */
  load?: number;
  /** Deadline of every call; default 300 s, so a deadlock outlasts many capture rounds. */
  deadlineMs?: number;
  /** Simulated work per Reserve (ms, a sleep); default 5. */
  reserveWorkMs?: number;
}

export interface GrpcShopProcess {
  name: 'orders' | 'inventory' | 'client';
  pid: number;
}

export interface GrpcShop {
  readonly options: Required<GrpcShopOptions>;
  readonly orders: LaunchedProcess;
  readonly inventory: LaunchedProcess;
  readonly client: LaunchedProcess;
  readonly ordersPort: number;
  readonly inventoryPort: number;
  /** The two servers, as tests capture them (`--jvm orders=PID --jvm inventory=PID`). */
  servers(): GrpcShopProcess[];
  /** Sets the number of concurrent Place callers; resolves once the client took the command. */
  load(concurrency: number): Promise<void>;
  /** Orders the client has completed so far (its latest report). */
  completed(): number;
  /** Resolves once `more` further orders have completed (healthy progress). */
  waitForCompleted(more: number, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once the orders server reports the deadlock: every pool thread blocked in Reserve for a
   * second, with calls (the Audits) queued behind them.
   */
  waitForStalled(timeoutMs?: number): Promise<void>;
  /** Kills the three JVMs and starts fresh ones (new pids and ports), with option overrides. */
  restart(overrides?: GrpcShopOptions): Promise<void>;
  /** Kills every JVM it started. Safe to call twice. */
  stop(): Promise<void>;
}

const defaults = (o: GrpcShopOptions): Required<GrpcShopOptions> => ({
  pool: o.pool ?? 8,
  mode: o.mode ?? 'nested',
  load: o.load ?? 0,
  deadlineMs: o.deadlineMs ?? GRPC_DEFAULT_DEADLINE_MS,
  reserveWorkMs: o.reserveWorkMs ?? 5,
});

interface Running {
  orders: LaunchedProcess;
  inventory: LaunchedProcess;
  client: LaunchedProcess;
  ordersPort: number;
  inventoryPort: number;
}

const portOf = (event: string): number => Number(/port=(\d+)/.exec(event)?.[1] ?? NaN);

async function startAll(classpath: string, o: Required<GrpcShopOptions>): Promise<Running> {
  const started: LaunchedProcess[] = [];
  const java = (name: string, main: string, args: (string | number)[]): LaunchedProcess => {
    const p = launch({
      name,
      command: 'java',
      args: [...SMALL_JVM_FLAGS, '-cp', classpath, `${PACKAGE}.${main}`, ...args.map(String)],
    });
    started.push(p);
    return p;
  };
  try {
    const orders = java('orders', 'OrdersServer', ['--pool', o.pool, '--deadline-ms', o.deadlineMs]);
    const ordersPort = portOf(await orders.waitForEvent(/^orders ready port=\d+/, START_TIMEOUT_MS, { past: true }));
    const inventory = java('inventory', 'InventoryServer', [
      '--orders-port',
      ordersPort,
      '--mode',
      o.mode,
      '--deadline-ms',
      o.deadlineMs,
      '--work-ms',
      o.reserveWorkMs,
    ]);
    const inventoryPort = portOf(
      await inventory.waitForEvent(/^inventory ready port=\d+/, START_TIMEOUT_MS, { past: true }),
    );
    const connected = orders.waitForEvent(/^orders connected inventory=/, START_TIMEOUT_MS);
    orders.send(`inventory ${inventoryPort}`);
    await connected;
    const client = java('client', 'LoadClient', ['--orders-port', ordersPort, '--deadline-ms', o.deadlineMs]);
    await client.waitForEvent(/^client ready /, START_TIMEOUT_MS, { past: true });
    return { orders, inventory, client, ordersPort, inventoryPort };
  } catch (err) {
    await killAll(started);
    throw err;
  }
}

export async function startGrpcShop(options: GrpcShopOptions = {}): Promise<GrpcShop> {
  const classpath = compileGrpcFixture();
  let o = defaults(options);
  let run = await startAll(classpath, o);
  const completed = (): number => {
    const events = run.client.events();
    for (let i = events.length - 1; i >= 0; i--) {
      const m = /^client stats completed=(\d+)/.exec(events[i]!);
      if (m !== null) return Number(m[1]);
    }
    return 0;
  };
  const load = async (n: number): Promise<void> => {
    const ack = run.client.waitForEvent((e) => e === `client load ${n}`, 10_000);
    run.client.send(`load ${n}`);
    await ack;
  };
  const shop: GrpcShop = {
    get options() {
      return o;
    },
    get orders() {
      return run.orders;
    },
    get inventory() {
      return run.inventory;
    },
    get client() {
      return run.client;
    },
    get ordersPort() {
      return run.ordersPort;
    },
    get inventoryPort() {
      return run.inventoryPort;
    },
    servers: () => [
      { name: 'orders', pid: run.orders.pid },
      { name: 'inventory', pid: run.inventory.pid },
    ],
    load,
    completed,
    waitForCompleted: async (more, timeoutMs = 20_000) => {
      const target = completed() + more;
      await run.client.waitForEvent(
        (e) => Number(/^client stats completed=(\d+)/.exec(e)?.[1] ?? -1) >= target,
        timeoutMs,
      );
    },
    waitForStalled: async (timeoutMs = 20_000) => {
      const state = run.orders.events().filter((e) => /^orders (?:stalled|flowing)/.test(e));
      if (state[state.length - 1]?.startsWith('orders stalled') === true) return;
      await run.orders.waitForEvent(/^orders stalled /, timeoutMs);
    },
    restart: async (overrides = {}) => {
      await killAll([run.client, run.inventory, run.orders]);
      o = defaults({ ...o, ...overrides });
      run = await startAll(classpath, o);
      if (o.load > 0) await load(o.load);
    },
    stop: () => killAll([run.client, run.inventory, run.orders]),
  };
  try {
    if (o.load > 0) await load(o.load);
  } catch (err) {
    await shop.stop();
    throw err;
  }
  return shop;
}
