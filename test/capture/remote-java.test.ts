// Capture across hosts and users, against real JVMs: two agents on loopback each serving three
// JVMs (dumps taken at the agents, authenticated by the cluster secret's token); the ssh and
// kubectl presets through stand-in commands on PATH; and a JVM of another user, captured as a
// third user, recorded with its reason while that user's own JVM is captured.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfigError, CaptureAgent } from '../../src/capture/agent/server.js';
import { parseJvmMatcher } from '../../src/capture/index.js';
import type { BundleManifest } from '../../src/dumps/bundle.js';
import { parseDumpFileSync } from '../../src/dumps/index.js';
import { readCpuSample } from '../../src/dumps/thread-cpu.js';
import { adminToken } from '../../src/substrate/real/http-auth.js';
import { runCli } from '../support/cli.js';
import { requireTool } from '../support/environment.js';
import { spread, tempDirs, uniqueTag } from './helpers.js';
import { javaForTests, startLoneJvm, type LoneJvm } from '../dumps/java-fixture.js';

const haveJava = javaForTests() && process.platform === 'linux';
const tempDir = tempDirs('rollcall-remote-');

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (body += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe.skipIf(!haveJava)('capture through agents (real JVMs)', () => {
  const jvms: LoneJvm[] = [];
  const agents: CaptureAgent[] = [];
  const tags = [uniqueTag('agentA'), uniqueTag('agentB')];
  let secretFile: string;

  beforeAll(async () => {
    secretFile = join(tempDir(), 'cluster.secret');
    writeFileSync(secretFile, 'an agent test secret of enough bytes\n', { mode: 0o600 });
    const secret = Buffer.from('an agent test secret of enough bytes');
    for (const tag of tags) {
      for (let i = 0; i < 3; i++) jvms.push(await startLoneJvm({ tag, idleThreads: 100 }));
      agents.push(
        await CaptureAgent.start({ host: '127.0.0.1', port: 0, secret, serve: [parseJvmMatcher(`--tag ${tag}`)] }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await Promise.all(jvms.map((j) => j.stop()));
  });

  it('two agents of three JVMs each: every dump taken at its agent, at the instant, by attach', async () => {
    const out = join(tempDir(), 'bundle');
    const r = await runCli([
      'capture',
      ...['--agent', `a=${agents[0]!.url}`, '--agent', `b=${agents[1]!.url}`, '--secret-file', secretFile],
      ...['--interval', '2s', '--count', '4', '--out', out, '--json'],
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout) as BundleManifest;
    expect(m.targets.map((t) => t.name.replace(/-\d+@/, '-N@')).sort()).toEqual(
      [...Array(3).fill('HMaster-N@a'), ...Array(3).fill('HMaster-N@b')].sort(),
    );
    expect(m.targets.every((t) => t.kind === 'agent' && /\/jvms\/\d+$/.test(t.spec))).toBe(true);
    expect(m.captures).toHaveLength(24);
    expect(m.captures.filter((c) => c.error !== undefined).map((c) => `${c.node}#${c.round}: ${c.error}`)).toEqual([]);
    for (const c of m.captures) {
      expect(c).toMatchObject({ method: 'agent', agentMethod: 'attach' });
      expect(typeof c.clockOffsetMs).toBe('number');
      expect(c.clockRttMs!).toBeGreaterThanOrEqual(0);
      expect(c.firstByteAtMs!).toBeGreaterThanOrEqual(c.requestedAtMs!);
      expect(readCpuSample(join(out, c.cpuFile!))!.pid).toBe(c.pid);
    }
    for (const round of m.rounds) {
      const mine = m.captures.filter((c) => c.round === round.round);
      expect(round.skewMs).toBeCloseTo(spread(mine.map((c) => c.requestedAtMs!)), 2);
    }
    const dump = parseDumpFileSync(join(out, m.captures[0]!.file!));
    expect(dump.dumps[0]!.threads.length).toBeGreaterThan(100);
    expect(dump.dumps[0]!.pid).toBe(m.captures[0]!.pid);
  });

  it('rejects requests without the secret, serves only its JVMs, and listens beyond loopback only with a secret', async () => {
    const url = agents[0]!.url;
    expect((await get(`${url}/jvms`)).status).toBe(401);
    expect((await get(`${url}/jvms`, { Authorization: 'Bearer 00' })).status).toBe(401);
    const token = adminToken(Buffer.from('an agent test secret of enough bytes'));
    const listed = await get(`${url}/jvms`, { Authorization: `Bearer ${token}` });
    expect(listed.status).toBe(200);
    const served = (JSON.parse(listed.body) as { jvms: { pid: number }[] }).jvms.map((j) => j.pid).sort();
    expect(served).toEqual(
      jvms
        .slice(0, 3)
        .map((j) => j.pid)
        .sort(),
    );
    // Another agent's JVM, or any other process, is not this agent's to dump.
    const other = await get(`${url}/jvms/${jvms[3]!.pid}/stacks?at=${Date.now()}`, {
      Authorization: `Bearer ${token}`,
    });
    expect(other.status).toBe(403);
    const noSecret = await runCli(['capture', '--agent', `a=${url}`, '--out', join(tempDir(), 'b')]);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/--agent a: agent: HTTP 401 \(wrong or missing secret/);
    await expect(CaptureAgent.start({ host: '0.0.0.0', port: 0 })).rejects.toBeInstanceOf(AgentConfigError);
  });
});

describe.skipIf(!haveJava)('ssh and kubectl presets (stand-in commands on PATH)', () => {
  let jvm: LoneJvm;
  let bin: string;
  const tag = uniqueTag('preset');
  const path = process.env['PATH'];

  beforeAll(async () => {
    jvm = await startLoneJvm({ tag, idleThreads: 20 });
    bin = tempDir();
    // Stand-ins that run "remote" commands here, and log where they were asked to go.
    writeFileSync(
      join(bin, 'ssh'),
      `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -o) shift 2;; --) shift; break;; -*) shift;; *) echo "host $1" >> "${bin}/log"; shift;; esac; done
exec sh -c "$*"
`,
    );
    writeFileSync(
      join(bin, 'kubectl'),
      `#!/bin/sh
[ "$1" = exec ] || exit 64; shift
while [ $# -gt 0 ]; do case "$1" in -i) shift;; -n) echo "namespace $2" >> "${bin}/log"; shift 2;; --) shift; break;; *) echo "pod $1" >> "${bin}/log"; shift;; esac; done
exec "$@"
`,
    );
    chmodSync(join(bin, 'ssh'), 0o755);
    chmodSync(join(bin, 'kubectl'), 0o755);
    process.env['PATH'] = `${bin}${delimiter}${path}`;
  });

  afterEach(() => rmSync(join(bin, 'log'), { force: true }));
  afterAll(async () => {
    process.env['PATH'] = path;
    await jvm?.stop();
  });

  it('--ssh lists the host JVMs with jcmd -l and dumps the matching ones remotely', async () => {
    const out = join(tempDir(), 'bundle');
    const r = await runCli([
      'capture',
      '--ssh',
      'rs7.example.com',
      '--jvm-match',
      `--tag ${tag}`,
      '--count',
      '2',
      '--interval',
      '3s',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout) as BundleManifest;
    expect(m.targets).toEqual([
      expect.objectContaining({
        name: `HMaster-${jvm.pid}@rs7.example.com`,
        kind: 'ssh',
        spec: `rs7.example.com:${jvm.pid}`,
      }),
    ]);
    expect(m.captures.map((c) => [c.method, c.error])).toEqual([
      ['cmd', undefined],
      ['cmd', undefined],
    ]);
    expect(parseDumpFileSync(join(out, m.captures[1]!.file!)).dumps[0]!.pid).toBe(jvm.pid);
    expect(readFileSync(join(bin, 'log'), 'utf8').trim().split('\n')).toEqual(Array(3).fill('host rs7.example.com'));
  });

  it('--kubectl POD@NAMESPACE:PID dumps one JVM through kubectl exec', async () => {
    const out = join(tempDir(), 'bundle');
    const r = await runCli([
      'capture',
      '--kubectl',
      `rs=hbase-rs-0@prod:${jvm.pid}`,
      '--count',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout) as BundleManifest;
    expect(m.targets.map((t) => [t.name, t.kind, t.spec])).toEqual([['rs', 'kubectl', `hbase-rs-0@prod:${jvm.pid}`]]);
    expect(m.captures[0]!.error).toBeUndefined();
    expect(parseDumpFileSync(join(out, m.captures[0]!.file!)).dumps[0]!.threads.length).toBeGreaterThan(20);
    expect(readFileSync(join(bin, 'log'), 'utf8').trim().split('\n')).toEqual(['pod hbase-rs-0', 'namespace prod']);
  });
});

const isRoot = process.getuid?.() === 0;
const haveSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
const crossUser =
  haveJava &&
  requireTool('root and setpriv (JVMs and capture as other users)', isRoot && haveSetpriv, 'run the tests as root');

describe.skipIf(!crossUser)('another user\u2019s JVM', () => {
  it('is recorded with its reason while the capturing user\u2019s own JVM is captured', async () => {
    const cli = join(process.cwd(), 'dist', 'src', 'cli', 'bin.js');
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
    // The JVMs' working directory is root's: the trigger file then goes to /tmp, as the JDK does.
    const cwd = tempDir();
    const NOBODY = { uid: 65534, gid: 65534 };
    const DAEMON = { uid: 1, gid: 1 };
    const theirs = await startLoneJvm({ tag: uniqueTag('nobody'), runAs: NOBODY, cwd });
    const mine = await startLoneJvm({ tag: uniqueTag('daemon'), runAs: DAEMON, cwd });
    try {
      const outDir = tempDir();
      chmodSync(outDir, 0o777);
      const out = join(outDir, 'bundle');
      const r = spawnSync(
        'setpriv',
        [
          `--reuid=${DAEMON.uid}`,
          `--regid=${DAEMON.gid}`,
          '--clear-groups',
          process.execPath,
          cli,
          'capture',
          ...['--jvm', `theirs=${theirs.pid}`, '--jvm', `mine=${mine.pid}`],
          ...['--interval', '1s', '--count', '2', '--out', out, '--json'],
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const m = JSON.parse(r.stdout) as BundleManifest;
      const by = (node: string) => m.captures.filter((c) => c.node === node);
      expect(by('theirs').map((c) => c.error)).toEqual(
        Array(2).fill('owned by uid 65534 (nobody); attach needs that user or root (running as uid 1)'),
      );
      expect(by('mine').map((c) => [c.method, c.error])).toEqual([
        ['attach', undefined],
        ['attach', undefined],
      ]);
    } finally {
      await Promise.all([theirs.stop(), mine.stop()]);
    }
  });
});
