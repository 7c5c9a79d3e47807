// Hostile and oversized inputs to `rollcall analyze` and `rollcall parse` (issue 16): bounded reads
// whatever the input is, streaming instead of refusing large inputs, one clear line on stderr and
// exit 2 for what cannot be analyzed, never a stack trace, never a file outside a bundle.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_RULES_FILE_BYTES } from '../../src/diagnose/rules.js';
import { MAX_DUMP_INPUT_BYTES } from '../../src/dumps/parse.js';
import { generateJstackCorpus } from '../../bench/corpus.js';
import { runCli, type CliResult } from '../support/cli.js';

const JUC = fileURLToPath(new URL('../../fixtures/java-locks/juc-cycle-no-section.txt', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rollcall-inputs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Exit 2 with one line on stderr naming the problem, and no stack trace. */
function refused(r: CliResult, reason: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(reason);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

function bundle(name: string, captures: object[]): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'n'), { recursive: true });
  writeFileSync(join(dir, 'n', '0.txt'), readFileSync(JUC));
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      version: 'rollcall-bundle/1',
      createdAt: 0,
      intervalMs: 1000,
      count: 1,
      timeoutMs: 1000,
      maxBytes: 1 << 20,
      targets: [{ name: 'n', kind: 'cmd', spec: 'true', dir: 'n' }],
      rounds: [{ round: 0, scheduledAt: 0, skewMs: 0 }],
      captures,
    }),
  );
  return dir;
}

describe('inputs that must not cost unbounded work', () => {
  it('a device of endless zeros is refused at once (parse and analyze)', async () => {
    refused(await runCli(['parse', '/dev/zero']), /\/dev\/zero: binary data/);
    refused(await runCli(['analyze', '/dev/zero']), /\/dev\/zero: binary data/);
  });

  it('a pipe of more dumps than fit one read (analyze <(zcat big.gz)) is streamed, not refused', async () => {
    // One node's 300-thread dump (~340 KB), repeated past the size anything is read whole at.
    generateJstackCorpus(join(tmp, 'corpus'), { nodes: 1, samples: 1, threads: 300 });
    const dump = readFileSync(join(tmp, 'corpus', 'node0', '0.txt'));
    const copies = Math.ceil((MAX_DUMP_INPUT_BYTES + 8 * 1024 * 1024) / dump.byteLength);
    const gz = join(tmp, 'big.txt.gz');
    await new Promise<void>((resolve, reject) => {
      const zip = createGzip({ level: 1 });
      zip.pipe(createWriteStream(gz)).on('finish', resolve).on('error', reject);
      for (let i = 0; i < copies; i++) zip.write(dump);
      zip.end();
    });
    const fifo = join(tmp, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const zcat = spawn('sh', ['-c', 'zcat "$1" > "$2"', 'sh', gz, fifo], { stdio: 'ignore' });
    const zcatDone = new Promise((resolve) => zcat.on('exit', resolve));
    const r = await runCli(['analyze', fifo, '--json']);
    await zcatDone;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout) as { samples: number; nodes: { threadsPerSample: number[] }[] };
    expect(o.samples).toBe(copies);
    expect(o.nodes[0]!.threadsPerSample.every((n) => n === 300)).toBe(true);
  }, 180_000);

  it('a file of more dumps than the analysis takes says so in one line', async () => {
    const tiny =
      'Full thread dump OpenJDK:\n\n"main" #1 prio=5 os_prio=0 tid=0x1 nid=0x1 runnable  [0x0]\n   java.lang.Thread.State: RUNNABLE\n\n';
    const f = join(tmp, 'many.txt');
    writeFileSync(f, tiny.repeat(10_001));
    refused(await runCli(['analyze', f]), /more than 10000 samples/);
  });

  it('a bundle manifest naming round 1e9 is refused, not iterated', async () => {
    const dir = bundle('far-round', [{ node: 'n', round: 1e9, scheduledAt: 0, file: 'n/0.txt' }]);
    refused(await runCli(['analyze', dir]), /manifest\.json: not a rollcall-bundle\/1 manifest \(captures\.0\.round/);
  });

  it('a bundle manifest cannot make analyze read a file outside the bundle', async () => {
    const dir = bundle('escape', [{ node: 'n', round: 0, scheduledAt: 0, file: '../../../../../../etc/passwd' }]);
    const r = await runCli(['analyze', dir, '--show-unparsed']);
    refused(r, /capture file '..\/..\/..\/..\/..\/..\/etc\/passwd' is outside the bundle/);
    expect(r.stdout).not.toContain('root:');
    const abs = bundle('absolute', [{ node: 'n', round: 0, scheduledAt: 0, file: '/etc/passwd' }]);
    refused(await runCli(['analyze', abs]), /outside the bundle/);
  });

  it('a rollcall JSON dump with a thread whose counters are null, or a null pool, loses only that entry', async () => {
    const thread = (id: number, extra: object) => ({
      id,
      name: `t${id}`,
      pool: null,
      daemon: false,
      state: 'RUNNABLE',
      frames: ['a.B.c'],
      wait: null,
      serving: null,
      counters: { steps: 1, completed: 0, waited: 0, blocked: 0 },
      startedAtMs: 0,
      ...extra,
    });
    const f = join(tmp, 'node.json');
    writeFileSync(
      f,
      JSON.stringify({
        format: 'rollcall-dump/1',
        node: 'w1',
        role: 'worker',
        pid: 1,
        version: 'rollcall 0.1.0',
        capturedAtMs: 0,
        monotonicMs: 0,
        threads: [thread(1, {}), thread(2, { counters: null }), thread(3, {})],
        pools: [null],
      }),
    );
    const r = await runCli(['parse', f, '--json']);
    expect(r.code).toBe(0);
    const [res] = JSON.parse(r.stdout) as { dumps: { threads: { name: string }[] }[]; errors: { message: string }[] }[];
    expect(res!.dumps[0]!.threads.map((t) => t.name)).toEqual(['t1', 't3']);
    expect(res!.errors.map((e) => e.message)).toEqual([
      "rollcall thread 't2' with counters that are not an object skipped",
      'rollcall pool entry that is not an object skipped',
    ]);
    expect((await runCli(['analyze', f, '--json'])).code).toBe(0);
  });

  it('--rules reads at most the rules limit, whatever the file is (a device)', async () => {
    refused(
      await runCli(['analyze', JUC, '--rules', '/dev/zero']),
      /cannot read --rules \/dev\/zero: over the 1048576-byte limit/,
    );
    // --help states that limit without loading the rules module; the two must agree.
    expect((await runCli(['analyze', '--help'])).stdout).toContain(`at most ${MAX_RULES_FILE_BYTES} bytes`);
  });

  it('--node-addr without NAME= says what it takes', async () => {
    refused(await runCli(['analyze', JUC, '--node-addr', 'bad']), /--node-addr takes NAME=HOST:PORT, not 'bad'/);
  });
});
