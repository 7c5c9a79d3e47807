// What a hostile peer costs a node: the memory of a real `rollcall node` process (VmRSS) while
//  (a) 12 connections each send a 16 MiB−1 frame before logging in, then go quiet, and
//  (b) a logged-in client sends 1,000,000 requests and never reads a reply.
// Prints the node's RSS before, at its peak, and the connections it left open. Run it against
// another build with --cli PATH (e.g. an older dist/src/cli/bin.js) to compare.
// usage: npm run bench:abuse -- [--json] [--cli PATH] [--requests 1000000] [--secret]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defaultCliPath } from '../src/runtime/index.js';

interface Args {
  json: boolean;
  cli: string;
  requests: number;
  /** Start the node with a cluster secret (links are then TLS: the frames never reach RPC). */
  secret: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, cli: defaultCliPath(), requests: 1_000_000, secret: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--json') a.json = true;
    else if (v === '--cli') a.cli = argv[++i]!;
    else if (v === '--requests') a.requests = Number(argv[++i]);
    else if (v === '--secret') a.secret = true;
    else {
      console.error(`usage: npm run bench:abuse -- [--json] [--cli PATH] [--requests N] [--secret]; not '${v}'`);
      process.exit(2);
    }
  }
  return a;
}

const MIB = 1024 * 1024;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function frame(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length, 0);
  return Buffer.concat([h, body]);
}

async function startNode(args: Args, dir: string): Promise<{ child: ChildProcess; port: number }> {
  const secretArgs: string[] = [];
  if (args.secret) {
    const file = join(dir, 'secret');
    writeFileSync(file, 'bench-secret-0123456789abcdef\n', { mode: 0o600 });
    secretArgs.push('--secret-file', file);
  }
  const child = spawn(
    process.execPath,
    [
      args.cli,
      'node',
      '--role',
      'master',
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--data',
      join(dir, 'data'),
      '--json',
      ...secretArgs,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const rpc = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('{')) resolve((JSON.parse(l) as { rpc: string }).rpc);
    });
    child.once('exit', (code) => reject(new Error(`node exited (${code}) before it was ready`)));
  });
  return { child, port: Number(rpc.split(':').at(-1)) };
}

/** Samples RSS every 100 ms while `work` runs, and for settleMs after; returns the peak. */
async function peakWhile(pid: number, work: Promise<unknown>, settleMs: number): Promise<number> {
  let peak = rssMiB(pid);
  let done = false;
  void work.finally(() => (done = true));
  const sample = async (): Promise<void> => {
    while (!done) {
      peak = Math.max(peak, rssMiB(pid));
      await pause(100);
    }
    const end = Date.now() + settleMs;
    while (Date.now() < end) {
      peak = Math.max(peak, rssMiB(pid));
      await pause(100);
    }
  };
  await sample();
  return peak;
}

/** (a) 12 connections, each a 16 MiB−1 frame before login; how many the node still holds open after 8 s. */
async function preLoginFrames(port: number, pid: number): Promise<{ peakMiB: number; stillOpen: number }> {
  const sockets: net.Socket[] = [];
  const body = Buffer.alloc(16 * MIB - 1, 0x61);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  const sent = Promise.all(
    Array.from({ length: 12 }, () => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => {});
      sockets.push(s);
      return new Promise<void>((resolve) => {
        s.write(header);
        s.write(body, () => resolve());
        s.once('close', () => resolve());
      });
    }),
  );
  const peakMiB = await peakWhile(pid, sent, 8_000);
  const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  for (const s of sockets) s.destroy();
  return { peakMiB, stillOpen };
}

/** (b) a logged-in client that sends `requests` calls and never reads. */
async function unreadReplies(port: number, pid: number, requests: number): Promise<{ peakMiB: number; sent: number }> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.pause(); // never reads
  s.write(frame(Buffer.from(JSON.stringify({ t: 'hello', node: 'greedy' }))));
  let sent = 0;
  const writing = (async () => {
    const batch = 1000;
    while (sent < requests && !s.destroyed) {
      const frames: Buffer[] = [];
      for (let i = 0; i < batch && sent < requests; i++, sent++) {
        frames.push(
          frame(
            Buffer.from(
              JSON.stringify({
                t: 'req',
                id: sent + 1,
                m: 'MasterService.getClusterStatus',
                a: null,
                cn: 'greedy',
                ct: 1,
              }),
            ),
          ),
        );
      }
      if (!s.write(Buffer.concat(frames))) {
        // The node stopped reading: wait (bounded) for it to take more.
        const drained = await Promise.race([
          new Promise<boolean>((r) => s.once('drain', () => r(true))),
          pause(10_000).then(() => false),
        ]);
        if (!drained) break;
      }
    }
  })();
  const peakMiB = await peakWhile(pid, writing, 3_000);
  s.destroy();
  return { peakMiB, sent };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-abuse-'));
  const results: Record<string, unknown> = { cli: args.cli, secret: args.secret };
  try {
    {
      const { child, port } = await startNode(args, dir);
      await pause(1000);
      const before = rssMiB(child.pid!);
      const r = await preLoginFrames(port, child.pid!);
      results.preLogin = {
        rssBeforeMiB: round(before),
        rssPeakMiB: round(r.peakMiB),
        connectionsStillOpen: r.stillOpen,
      };
      child.kill('SIGKILL');
    }
    {
      const { child, port } = await startNode({ ...args, secret: false }, join(dir, 'b'));
      await pause(1000);
      const before = rssMiB(child.pid!);
      const r = await unreadReplies(port, child.pid!, args.requests);
      results.unreadReplies = {
        requests: args.requests,
        requestsWritten: r.sent,
        rssBeforeMiB: round(before),
        rssPeakMiB: round(r.peakMiB),
      };
      child.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (args.json) {
    console.log(JSON.stringify(results));
    return;
  }
  const p = results.preLogin as { rssBeforeMiB: number; rssPeakMiB: number; connectionsStillOpen: number };
  const u = results.unreadReplies as { requestsWritten: number; rssBeforeMiB: number; rssPeakMiB: number };
  console.log(`node: ${args.cli}${args.secret ? ' (with a secret)' : ''}`);
  console.log(
    `12 x 16 MiB-1 frames before login: RSS ${p.rssBeforeMiB} -> peak ${p.rssPeakMiB} MiB; ${p.connectionsStillOpen} connections still open after 8 s`,
  );
  console.log(`${u.requestsWritten} requests, replies never read: RSS ${u.rssBeforeMiB} -> peak ${u.rssPeakMiB} MiB`);
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
