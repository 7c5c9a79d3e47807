// The capture engine and bundles, against local HTTP servers and shell commands; the CLI's usage errors.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Capturer, captureBundle, DirectorySink, MAX_ROUNDS, parseTargetsText } from '../../src/capture/index.js';
import { main } from '../../src/cli/main.js';
import { MAX_ROUNDS as ANALYZE_MAX_ROUNDS } from '../../src/diagnose/index.js';
import {
  BundleExistsError,
  prepareBundleDir,
  readBundle,
  sanitizeNodeDir,
  type BundleManifest,
} from '../../src/dumps/bundle.js';
import { parseDumpFileSync } from '../../src/dumps/index.js';
import { runCli } from '../support/cli.js';
import { gate, until } from '../support/gate.js';
import { alive } from '../support/processes.js';
import { REFUSED_URL } from '../support/refused.js';

const DUMP = [
  '2024-03-01 10:00:00',
  'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode):',
  '',
  '"main" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable  [0x0]',
  '   java.lang.Thread.State: RUNNABLE',
  '\tat com.example.Main.main(Main.java:1)',
  '',
].join('\n');

const servers: http.Server[] = [];
const rawServers: net.Server[] = [];
const dirs: string[] = [];

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/stacks`;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rollcall-capture-test-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  for (const s of rawServers) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function checkTimes(m: BundleManifest): void {
  const t0 = m.rounds[0]!.scheduledAt;
  m.rounds.forEach((r, k) => expect(r.scheduledAt).toBe(t0 + k * m.intervalMs));
  for (const c of m.captures) {
    expect(c.scheduledAt).toBe(m.rounds[c.round]!.scheduledAt);
    if (c.startedAt === undefined) continue;
    // Launched at the scheduled instant: never early (how late depends on the machine's load).
    expect(c.startedAt).toBeGreaterThanOrEqual(c.scheduledAt);
    expect(c.finishedAt!).toBeGreaterThanOrEqual(c.startedAt);
  }
  for (const r of m.rounds) {
    const starts = m.captures
      .filter((c) => c.round === r.round && c.startedAt !== undefined)
      .map((c) => c.requestedAtMs ?? c.startedAt!);
    // A round whose every target was still busy (a loaded machine) has no skew to check.
    expect(r.skewMs).toBeCloseTo(starts.length === 0 ? 0 : Math.max(...starts) - Math.min(...starts), 2);
  }
}

describe('captureBundle', () => {
  let urls: string[];
  beforeAll(async () => {
    urls = [];
    for (let i = 0; i < 3; i++) urls.push(await serve((_req, res) => res.end(DUMP.replace('"main"', `"main-${i}"`))));
  });

  it('captures every target at the same scheduled instants, recording an unreachable one as an error', async () => {
    const out = join(tempDir(), 'bundle');
    const dead = REFUSED_URL;
    const seen: string[] = [];
    const m = await captureBundle({
      targets: [
        ...urls.map((u, i) => ({ name: `node ${i}/x`, kind: 'url' as const, spec: u })),
        { name: 'dead', kind: 'url', spec: dead },
      ],
      intervalMs: 300,
      count: 3,
      outDir: out,
      onCapture: (rec) => seen.push(`${rec.node}#${rec.round}`),
    });
    expect(m.rounds).toHaveLength(3);
    expect(m.captures).toHaveLength(12);
    expect(seen).toHaveLength(12);
    expect(m.completedAt).toBeDefined();
    checkTimes(m);
    const ok = m.captures.filter((c) => c.error === undefined);
    expect(ok).toHaveLength(9);
    for (const c of ok) {
      expect(c.status).toBe(200);
      expect(c.bytes).toBe(Buffer.byteLength(DUMP) + 2);
      expect(readFileSync(join(out, c.file!), 'utf8')).toContain('Full thread dump');
    }
    const failed = m.captures.filter((c) => c.node === 'dead');
    expect(failed.map((c) => c.error)).toEqual([
      expect.stringMatching(/ECONNREFUSED/),
      expect.anything(),
      expect.anything(),
    ]);
    expect(failed.every((c) => c.file === undefined)).toBe(true);
    // Folder names are sanitized; the manifest on disk is the returned one.
    expect(m.targets.map((t) => t.dir)).toEqual(['node_0_x', 'node_1_x', 'node_2_x', 'dead']);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toEqual(m);

    const bundle = await readBundle(out);
    expect(bundle.nodes.map((n) => n.name)).toEqual(['node 0/x', 'node 1/x', 'node 2/x', 'dead']);
    const n0 = bundle.nodes[0]!;
    expect(n0.samples.map((s) => s.round)).toEqual([0, 1, 2]);
    expect(n0.addr).toMatch(/^127\.0\.0\.1:\d+$/);
    const parsed = parseDumpFileSync(n0.samples[1]!.file!);
    expect(parsed.dumps[0]!.threads[0]!.name).toBe('main-0');
    expect(bundle.nodes[3]!.samples.every((s) => s.error !== undefined && s.file === undefined)).toBe(true);

    // Analyzing the bundle says what it lacks.
    const analyzed = await runCli(['analyze', out, '--json']);
    expect(analyzed.code).toBe(0);
    expect(analyzed.stderr).toMatch(/3 capture\(s\) in the bundle have no dump: dead round 1: ECONNREFUSED/);
    expect(analyzed.stderr).not.toMatch(/has no dump from any node/);
  });

  it('analysis warns about a round in which no node was captured', async () => {
    let requests = 0;
    const url = await serve((req, res) => {
      if (++requests === 2)
        req.socket.destroy(); // round 2 fails
      else res.end(DUMP);
    });
    const out = join(tempDir(), 'b');
    const m = await captureBundle({
      targets: [{ name: 'n', kind: 'url', spec: url }],
      intervalMs: 250,
      count: 3,
      outDir: out,
    });
    expect(m.captures.map((c) => c.error === undefined)).toEqual([true, false, true]);
    const r = await runCli(['analyze', out, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { samples: number }).samples).toBe(2);
    expect(r.stderr).toMatch(/round 2 has no dump from any node and is left out of the analysis/);
  });

  it('sends each request at its scheduled instant, not when the connection is prepared', async () => {
    const arrivals: number[] = [];
    const url = await serve((_req, res) => {
      arrivals.push(performance.timeOrigin + performance.now());
      res.end(DUMP);
    });
    const m = await captureBundle({
      targets: [1, 2, 3].map((i) => ({ name: `n${i}`, kind: 'url' as const, spec: url })),
      intervalMs: 400,
      count: 2,
      outDir: join(tempDir(), 'b'),
    });
    expect(arrivals).toHaveLength(6);
    const scheduled = m.rounds.map((r) => r.scheduledAt);
    for (const a of arrivals.slice(0, 3)) expect(a).toBeGreaterThanOrEqual(scheduled[0]!);
    for (const a of arrivals.slice(3)) expect(a).toBeGreaterThanOrEqual(scheduled[1]!);
    // Each capture says how it was taken and when its request and first byte went and came.
    for (const c of m.captures) {
      expect(c.method).toBe('http');
      expect(c.requestedAtMs!).toBeGreaterThanOrEqual(c.startedAt!);
      expect(c.firstByteAtMs!).toBeGreaterThanOrEqual(c.requestedAtMs!);
      expect(c.finishedAt!).toBeGreaterThanOrEqual(c.firstByteAtMs!);
    }
    for (const r of m.rounds) {
      const mine = m.captures.filter((c) => c.round === r.round);
      const spread = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);
      expect(r.skewMs).toBeCloseTo(spread(mine.map((c) => c.requestedAtMs!)), 2);
      expect(r.firstByteSkewMs!).toBeCloseTo(spread(mine.map((c) => c.firstByteAtMs!)), 2);
    }
  });

  it('reads close-delimited, chunked and error responses, and rejects what is not HTTP', async () => {
    const raw = async (reply: string): Promise<string> => {
      const s = net.createServer((sock) => {
        sock.once('data', () => {
          sock.end(reply);
        });
      });
      rawServers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}/stacks?x=1`;
    };
    const chunked =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n';
    const out = join(tempDir(), 'b');
    const m = await captureBundle({
      targets: [
        {
          name: 'close',
          kind: 'url',
          spec: await raw('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world'),
        },
        { name: 'chunked', kind: 'url', spec: await raw(chunked) },
        { name: 'e500', kind: 'url', spec: await raw('HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfail') },
        { name: 'short', kind: 'url', spec: await raw('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this') },
        { name: 'junk', kind: 'url', spec: await raw('SSH-2.0-OpenSSH_9.2\r\n\r\n') },
      ],
      intervalMs: 0,
      count: 1,
      outDir: out,
    });
    const by = Object.fromEntries(m.captures.map((c) => [c.node, c]));
    expect(readFileSync(join(out, by.close!.file!), 'utf8')).toBe('hello world');
    expect(by.close!.error).toBeUndefined();
    expect(readFileSync(join(out, by.chunked!.file!), 'utf8')).toBe('hello world');
    expect(by.chunked!.error).toBeUndefined();
    // A failed capture keeps no partial file; its error says what came back.
    expect(by.e500).toMatchObject({ status: 500, error: 'HTTP 500: fail', bytes: 4 });
    expect(by.e500!.file).toBeUndefined();
    expect(by.short!.error).toBe('connection closed before the response ended');
    expect(by.junk!.error).toMatch(/not an HTTP response/);
  });

  it('never overwrites a non-empty bundle unless forced', async () => {
    const out = tempDir();
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const opts = {
      targets: [{ name: 'a', kind: 'url' as const, spec: urls[0]! }],
      intervalMs: 0,
      count: 1,
      outDir: out,
    };
    await expect(captureBundle(opts)).rejects.toBeInstanceOf(BundleExistsError);
    const m = await captureBundle({ ...opts, force: true });
    expect(m.captures[0]!.error).toBeUndefined();
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('cuts off slow and oversized captures and records why', async () => {
    const slow = await serve(() => undefined);
    const big = await serve((_req, res) => {
      res.write('x'.repeat(64 * 1024));
      res.end('x'.repeat(64 * 1024));
    });
    const out = join(tempDir(), 'b');
    const m = await captureBundle({
      targets: [
        { name: 'slow', kind: 'url', spec: slow },
        { name: 'big', kind: 'url', spec: big },
        { name: 'ok', kind: 'url', spec: urls[0]! },
      ],
      intervalMs: 0,
      count: 1,
      outDir: out,
      timeoutMs: 300,
      maxBytes: 1000,
    });
    const by = Object.fromEntries(m.captures.map((c) => [c.node, c]));
    expect(by.slow!.error).toBe('timed out after 300 ms');
    expect(by.big!.error).toMatch(/larger than 1000 bytes/);
    expect(by.big!.bytes).toBe(1000);
    expect(by.big!.file).toBeUndefined();
    expect(by.ok!.error).toBeUndefined();
  });

  it('runs commands, records failing ones with their exit status, and skips a target still busy', async () => {
    const out = join(tempDir(), 'b');
    const m = await captureBundle({
      targets: [
        { name: 'echo', kind: 'cmd', spec: `printf '${DUMP.replace(/\n/g, '\\n').replace(/\t/g, '\\t')}'` },
        { name: 'fails', kind: 'cmd', spec: 'echo oops >&2; exit 3' },
        { name: 'busy', kind: 'cmd', spec: 'sleep 0.5; echo done' },
      ],
      intervalMs: 200,
      count: 3,
      outDir: out,
    });
    checkTimes(m);
    const echo = m.captures.filter((c) => c.node === 'echo');
    expect(echo.every((c) => c.error === undefined && c.status === 0)).toBe(true);
    expect(parseDumpFileSync(join(out, echo[0]!.file!)).dumps[0]!.threads).toHaveLength(1);
    const fails = m.captures.filter((c) => c.node === 'fails');
    expect(fails.every((c) => c.status === 3 && c.error === 'command exited with 3: oops')).toBe(true);
    const busy = m.captures.filter((c) => c.node === 'busy').map((c) => c.error);
    expect(busy[0]).toBeUndefined();
    expect(busy[1]).toMatch(/skipped/);
  });

  it('still captures a target whose previous answer ends after the round is prepared but before its instant', async () => {
    const release = gate();
    let requests = 0;
    const url = await serve((_req, res) => {
      // The first answer is held until round 1 has been prepared: the target is busy then.
      if (++requests === 1) void release.promise.then(() => res.end(DUMP));
      else res.end(DUMP);
    });
    const out = join(tempDir(), 'b');
    const capturer = new Capturer([{ name: 'slow-first', kind: 'url', spec: url }]);
    await prepareBundleDir(out, capturer.targets, false);
    const sink = new DirectorySink(out);
    try {
      const leadMs = 300;
      const at0 = Date.now() + 50;
      const at1 = at0 + 1500;
      const r0 = capturer.round(0, at0, sink, 0);
      await r0.released;
      const r1 = capturer.round(1, at1, sink, leadMs);
      // Round 1 has been prepared (its arming time is past) while round 0's answer is still held.
      await until(() => Date.now() > at1 - leadMs + 50, 'round 1 prepared', 5000, 10);
      expect(r0.records[0]!.finishedAt).toBeUndefined();
      release.open();
      const [d0, d1] = await Promise.all([r0.done, r1.done]);
      expect(d0.records[0]!.error).toBeUndefined();
      // Before, the second capture was skipped whenever the first outlived the preparation.
      expect(d1.records[0]!.error).toBeUndefined();
      expect(d1.records[0]!.file).toBe('slow-first/1.txt');
    } finally {
      await capturer.close();
    }
  });

  it('kills a timed-out command with everything it started', async () => {
    const out = join(tempDir(), 'b');
    const pidFile = join(out, '..', 'child.pid');
    const m = await captureBundle({
      targets: [{ name: 'hang', kind: 'cmd', spec: `sh -c 'echo $$ > ${pidFile}; exec sleep 30' & sleep 5` }],
      intervalMs: 0,
      count: 1,
      outDir: out,
      timeoutMs: 500,
    });
    expect(m.captures[0]!.error).toBe('timed out after 500 ms');
    const child = Number(readFileSync(pidFile, 'utf8'));
    await until(() => !alive(child), `the command's background child ${child} to be killed`, 5000, 10);
  });

  it('keeps no partial dump of a failed capture, so analysis does not count it as a node', async () => {
    const out = join(tempDir(), 'b');
    const m = await captureBundle({
      targets: [
        { name: 'ok', kind: 'cmd', spec: `printf '${DUMP.replace(/\n/g, '\\n').replace(/\t/g, '\\t')}'` },
        { name: 'half', kind: 'cmd', spec: `printf '${DUMP.slice(0, 120).replace(/\n/g, '\\n')}'; exit 1` },
      ],
      intervalMs: 0,
      count: 1,
      outDir: out,
    });
    const half = m.captures.find((c) => c.node === 'half')!;
    expect(half.error).toMatch(/command exited with 1/);
    expect(half.file).toBeUndefined();
    expect(readdirSync(join(out, 'half'))).toEqual([]);
    // Neither the bundle nor the same folder read without its manifest shows the failed node.
    for (const input of [out, join(out, '..', 'plain')]) {
      if (input !== out) {
        mkdirSync(input);
        for (const d of ['ok', 'half']) cpSync(join(out, d), join(input, d), { recursive: true });
      }
      const r = await runCli(['analyze', input, '--json']);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { nodes: { name: string }[] }).nodes.map((n) => n.name)).toEqual(['ok']);
    }
  });
});

describe('bundle helpers', () => {
  it('sanitizes node names into unique, safe folder names', () => {
    const taken = new Set<string>();
    expect(sanitizeNodeDir('rs1.example.com:16020', taken)).toBe('rs1.example.com_16020');
    expect(sanitizeNodeDir('..', taken)).toBe('node_2');
    expect(sanitizeNodeDir('', taken)).toBe('node_0');
    expect(sanitizeNodeDir('a/b', taken)).toBe('a_b');
    expect(sanitizeNodeDir('a_b', taken)).toBe('a_b-2');
    expect(sanitizeNodeDir('A_B', taken)).toBe('A_B-3');
    expect(sanitizeNodeDir('manifest.json', taken)).toBe('manifest.json-2');
    expect(sanitizeNodeDir('x'.repeat(500), taken)).toHaveLength(100);
  });

  it('reads a plain folder of node folders as a bundle', async () => {
    const dir = tempDir();
    for (const n of ['m', 'w1']) {
      mkdirSync(join(dir, n));
      for (const f of ['10.txt', '2.txt', '1.txt']) writeFileSync(join(dir, n, f), DUMP);
    }
    const b = await readBundle(dir);
    expect(b.manifest).toBeUndefined();
    expect(b.nodes.map((n) => n.name)).toEqual(['m', 'w1']);
    expect(b.nodes[0]!.samples.map((s) => s.file!.split('/').pop())).toEqual(['1.txt', '2.txt', '10.txt']);
    expect(b.rounds).toHaveLength(3);
  });

  it('rejects a manifest that is not a bundle manifest', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'manifest.json'), '{"version":"other"}');
    await expect(readBundle(dir)).rejects.toThrow(/not a rollcall-bundle\/1 manifest/);
  });

  it('parses targets files in line and JSON form', () => {
    expect(parseTargetsText('# c\nurl m=http://h:1/stacks\n\njvm rs1=42\ncmd x=ssh h jcmd 1 Thread.print\n')).toEqual([
      { kind: 'url', name: 'm', spec: 'http://h:1/stacks' },
      { kind: 'jvm', name: 'rs1', spec: '42' },
      { kind: 'cmd', name: 'x', spec: 'ssh h jcmd 1 Thread.print' },
    ]);
    expect(
      parseTargetsText('[{"name":"m","url":"http://h/"},{"name":"j","jvm":7},{"name":"k","kind":"cmd","spec":"ls"}]'),
    ).toEqual([
      { kind: 'url', name: 'm', spec: 'http://h/' },
      { kind: 'jvm', name: 'j', spec: '7' },
      { kind: 'cmd', name: 'k', spec: 'ls' },
    ]);
    expect(parseTargetsText('{"targets":[{"name":"m","url":"http://h/"}]}')).toHaveLength(1);
    expect(() => parseTargetsText('url nope', 'f')).toThrow(
      "f:1: expected 'url|jvm|cmd|agent|ssh|kubectl NAME=VALUE', not 'url nope'",
    );
    expect(parseTargetsText('ssh rs3=rs3.example.com:4242\nagent rs4=http://rs4:7070/jvms/99')).toEqual([
      { kind: 'ssh', name: 'rs3', spec: 'rs3.example.com:4242' },
      { kind: 'agent', name: 'rs4', spec: 'http://rs4:7070/jvms/99' },
    ]);
    expect(() => parseTargetsText('[{"name":"m","url":"u","jvm":1}]', 'f')).toThrow(/exactly one of/);
  });
});

describe('rollcall capture (CLI)', () => {
  afterEach(() => vi.restoreAllMocks());

  const run = runCli;

  it('writes a bundle and prints its manifest with --json; refuses to overwrite it (exit 2)', async () => {
    const url = await serve((_req, res) => res.end(DUMP));
    const dir = tempDir();
    const targets = join(dir, 'targets.txt');
    writeFileSync(targets, `url b=${url}\n`);
    const out = join(dir, 'bundle');
    const r = await run([
      'capture',
      '--url',
      `a=${url}`,
      '--targets',
      targets,
      '--interval',
      '400ms',
      '--count',
      '2',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout) as BundleManifest;
    expect(m.targets.map((t) => t.name)).toEqual(['a', 'b']);
    expect(m.captures.map((c) => c.error ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'ok']);
    const again = await run(['capture', '--url', `a=${url}`, '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/not empty; refusing to overwrite/);
    const summary = await run(['capture', '--url', `a=${url}`, '--count', '1', '--out', out, '--force']);
    expect(summary.code).toBe(0);
    expect(summary.stdout).toMatch(/1 targets × 1 rounds .* 1\/1 captures ok \(1 by http\), max skew/);
  });

  it('exits 2 on bad usage, with one line saying why', async () => {
    const dir = tempDir();
    const out = join(dir, 'b');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const cases: [string[], RegExp][] = [
      [['capture', '--url', 'nourl', '--out', out], /--url takes NAME=VALUE, not 'nourl'/],
      [['capture', '--url', 'noequals', '--out', out], /--url takes NAME=VALUE/],
      [['capture', '--jvm', 'a=notapid', '--out', out], /a JVM is given by its pid/],
      [['capture', '--out', out], /no targets/],
      [['capture', '--url', 'a=http://x/', '--url', 'a=http://y/', '--out', out], /used twice/],
      [['capture', '--url', 'a=http://x/', '--count', '0', '--out', out], /--count takes a whole number/],
      [['capture', '--url', 'a=http://x/', '--count', String(MAX_ROUNDS + 1), '--out', out], /--count/],
      [['capture', '--url', 'a=http://x/'], /--out DIR is required/],
      // An output path that is a file is refused before any work, in one line.
      [['capture', '--url', `a=${REFUSED_URL}`, '--out', file], /is not a directory/],
      [['capture', '--jvm-match', '(', '--out', out], /--jvm-match/],
      [['capture', '--ssh', '-oProxyCommand=x', '--out', out], /--ssh takes/],
      [['capture', '--jvm-method', 'magic', '--jvm', 'a=1', '--out', out], /--jvm-method is one of/],
      [['capture', '--secret-file', join(dir, 'none'), '--url', 'a=http://x/', '--out', out], /does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
      // One line (commander adds its usual hint for flag syntax errors).
      const lines = r.stderr.trim().split('\n');
      expect(lines.slice(1)).toEqual(lines.length > 1 ? ['(run with --help for usage)'] : []);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('refuses more rounds than analyze reads: one limit for both', () => {
    expect(MAX_ROUNDS).toBe(ANALYZE_MAX_ROUNDS);
  });
});

describe('rollcall parse (CLI)', () => {
  it('summarizes files and lists unparsed lines', async () => {
    const dir = tempDir();
    const f = join(dir, 'd.txt');
    writeFileSync(f, `junk line\n${DUMP}`);
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      stdout += String(s);
      return true;
    });
    try {
      expect(await main(['node', 'rollcall', 'parse', f, '--show-unparsed', '--threads'])).toBe(0);
      expect(stdout).toContain(`${f}: jstack, 1 dump, 7 lines (1 unparsed), 0 errors`);
      expect(stdout).toContain(`${f}:1: junk line`);
      expect(stdout).toContain('"main" RUNNABLE at com.example.Main.main(Main.java:1)');
      stdout = '';
      expect(await main(['node', 'rollcall', 'parse', f, '--json'])).toBe(0);
      const j = JSON.parse(stdout) as { dumps: { threads: { frames: string[] }[] }[] }[];
      expect(j[0]!.dumps[0]!.threads[0]!.frames).toEqual(['com.example.Main.main(Main.java:1)']);
    } finally {
      spy.mockRestore();
    }
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'rollcall', 'parse', join(dir, 'missing.txt')])).toBe(2);
    } finally {
      errSpy.mockRestore();
    }
  });
});
