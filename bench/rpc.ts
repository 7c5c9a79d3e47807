// RPC benchmark: small calls over loopback, 64 concurrent callers against one server.
// The server runs in a worker thread so client and server each get a core, as two processes would.
// usage: npm run bench:rpc -- [--json] [--callers 64] [--seconds 3]
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { realSubstrate } from '../src/substrate/real/index.js';
import { ThreadRegistry } from '../src/threads/index.js';
import { RpcClient, RpcServer } from '../src/rpc/index.js';

interface Args {
  json: boolean;
  callers: number;
  seconds: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, callers: 64, seconds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--json') a.json = true;
    else if (v === '--callers') a.callers = Number(argv[++i]);
    else if (v === '--seconds') a.seconds = Number(argv[++i]);
    else if (v === '--help') {
      console.log('usage: npm run bench:rpc -- [--json] [--callers 64] [--seconds 3]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${v}`);
      process.exit(2);
    }
  }
  return a;
}

async function serverMain(handlers: number): Promise<void> {
  const substrate = realSubstrate();
  const threads = new ThreadRegistry('bench-server', 'server', process.pid, substrate.clock);
  const server = new RpcServer({
    node: 'bench-server',
    substrate,
    threads,
    listen: { host: '127.0.0.1', port: 0 },
    pools: [
      { name: 'default', handlers, queues: Math.max(1, Math.floor(handlers / 10)), maxQueueLength: handlers * 10 },
    ],
  });
  server.register('Bench.echo', 'default', async (a) => a, 'rollcall.bench.BenchService.echo');
  const addr = await server.start();
  parentPort!.postMessage({ port: addr.port });
  parentPort!.on('message', async () => {
    await server.stop();
    process.exit(0);
  });
}

async function clientMain(args: Args): Promise<void> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { handlers: 30 } });
  const port = await new Promise<number>((r) => worker.once('message', (m: { port: number }) => r(m.port)));
  const substrate = realSubstrate();
  const threads = new ThreadRegistry('bench-client', 'client', process.pid, substrate.clock);
  const client = new RpcClient({ node: 'bench-client', substrate });
  const peer = { node: 'bench-server', addr: { host: '127.0.0.1', port } };
  const callerThreads = Array.from({ length: args.callers }, (_, i) => threads.spawn(`bench-caller-${i}`));
  // Warm up the connection and the JIT.
  const warmEnd = performance.now() + 500;
  await Promise.all(
    callerThreads.map(async (t) => {
      while (performance.now() < warmEnd) await client.call(peer, 'Bench.echo', { x: 1 }, { thread: t });
    }),
  );
  const latenciesUs: number[] = [];
  const end = performance.now() + args.seconds * 1000;
  const start = performance.now();
  await Promise.all(
    callerThreads.map(async (t) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await client.call(peer, 'Bench.echo', { x: 1 }, { thread: t });
        latenciesUs.push((performance.now() - t0) * 1000);
      }
    }),
  );
  const elapsedS = (performance.now() - start) / 1000;
  latenciesUs.sort((a, b) => a - b);
  const pct = (p: number) => latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(p * latenciesUs.length))] ?? 0;
  // Unloaded latency: one caller, one call at a time.
  const single: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const t0 = performance.now();
    await client.call(peer, 'Bench.echo', { x: 1 }, { thread: callerThreads[0]! });
    single.push((performance.now() - t0) * 1000);
  }
  single.sort((a, b) => a - b);
  const result = {
    callsPerSec: Math.round(latenciesUs.length / elapsedS),
    p50Us: Math.round(pct(0.5)),
    p99Us: Math.round(pct(0.99)),
    calls: latenciesUs.length,
    callers: args.callers,
    seconds: Number(elapsedS.toFixed(2)),
    unloadedP50Us: Math.round(single[Math.floor(single.length / 2)]!),
    unloadedP99Us: Math.round(single[Math.floor(single.length * 0.99)]!),
  };
  client.close();
  worker.postMessage('stop');
  await new Promise((r) => worker.once('exit', r));
  if (args.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log('rollcall RPC benchmark (loopback, server in a worker thread)');
    console.log(`  callers        ${result.callers}`);
    console.log(`  calls          ${result.calls} in ${result.seconds} s`);
    console.log(`  calls/s        ${result.callsPerSec}`);
    console.log(`  p50 latency    ${result.p50Us} µs`);
    console.log(`  p99 latency    ${result.p99Us} µs`);
    console.log(`  unloaded p50   ${result.unloadedP50Us} µs (1 caller)`);
    console.log(`  unloaded p99   ${result.unloadedP99Us} µs (1 caller)`);
  }
}

if (isMainThread) {
  clientMain(parseArgs(process.argv.slice(2))).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  void serverMain((workerData as { handlers: number }).handlers);
}
