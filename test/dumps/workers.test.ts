// Parsing on worker threads gives what parsing in the main thread gives: the built CLI, run as a
// process with ROLLCALL_PARSE_WORKERS=2 and =0, prints the same analysis and the same parse
// summary, for a bundle of many files and for one large file read in parts.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateJstackCorpus } from '../../bench/corpus.js';
import { WHOLE_FILE_BYTES } from '../../src/dumps/feed.js';
import { requireTool } from '../support/environment.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/bin.js');
const built = existsSync(CLI) && existsSync(join(ROOT, 'dist/src/dumps/parse-worker.js'));
const tmp = mkdtempSync(join(tmpdir(), 'rollcall-workers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rollcall(workers: number, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ROLLCALL_PARSE_WORKERS: String(workers) },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(requireTool('the built CLI', built, 'run npm run build first'))('parsing on worker threads', () => {
  const corpus = join(tmp, 'bundle');
  const nodes = 12;
  const samples = 4;
  beforeAll(() => {
    generateJstackCorpus(corpus, { nodes, samples, threads: 300 });
  });

  it('analyzes a bundle exactly as the main thread alone does', () => {
    const threaded = rollcall(2, 'analyze', corpus, '--json', '--detail');
    const alone = rollcall(0, 'analyze', corpus, '--json', '--detail');
    expect(threaded.stderr).toBe('');
    expect(threaded.code).toBe(0);
    expect(threaded.stdout).toBe(alone.stdout);
    const o = JSON.parse(threaded.stdout) as { samples: number; nodes: unknown[]; deadlocks: unknown[] };
    expect([o.samples, o.nodes.length]).toEqual([samples, nodes]);
    expect(o.deadlocks.length).toBeGreaterThan(0);
  });

  it('reads one large file in parts on the workers, joining them exactly', () => {
    const big = join(tmp, 'big.txt');
    let bytes = 0;
    for (let round = 0; bytes <= WHOLE_FILE_BYTES + 4 * 1024 * 1024; round++) {
      const dump = readFileSync(join(corpus, `node${round % nodes}`, `${Math.floor(round / nodes) % samples}.txt`));
      appendFileSync(big, dump);
      bytes += dump.byteLength;
    }
    const threaded = rollcall(2, 'parse', big);
    expect(threaded.code).toBe(0);
    expect(threaded.stdout).toBe(rollcall(0, 'parse', big).stdout);
    expect(threaded.stdout).toMatch(/dump 60 \(lines \d+-\d+, jstack/);
    const analyzed = rollcall(2, 'analyze', big, '--json');
    expect(analyzed.code).toBe(0);
    expect(analyzed.stdout).toBe(rollcall(0, 'analyze', big, '--json').stdout);
  });
});
