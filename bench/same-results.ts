// Same results before and after a change to the parsers or the feeding loop: runs the built CLI
// (`analyze --json --detail`, `parse --json`) on the shared real-world dumps, the fixtures, a
// generated bundle, one big multi-dump file and a log-prefixed copy, and either saves every output
// or compares them with outputs saved earlier (from another build: `git stash; npm run build`).
// usage: node dist/bench/same-results.js save DIR | compare DIR   (from the project root)
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateJstackCorpus } from './corpus.js';

const CLI = resolve('dist/src/cli/bin.js');
const SHARED_DUMPS = resolve('../shared/dumps');
const WORK = join(tmpdir(), 'rollcall-same-results');
/** Output of one CLI run kept for comparison (the 100-node analysis is ~50 MB with --detail). */
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

interface Case {
  name: string;
  args: string[];
}

function inputs(): Case[] {
  const cases: Case[] = [];
  const files = [
    ...(existsSync(SHARED_DUMPS) ? readdirSync(SHARED_DUMPS).filter((f) => /\.(txt|json)$/.test(f)) : []).map((f) =>
      join(SHARED_DUMPS, f),
    ),
    ...readdirSync(resolve('fixtures/java-locks'))
      .filter((f) => f.endsWith('.txt'))
      .map((f) => resolve('fixtures/java-locks', f)),
  ];
  mkdirSync(WORK, { recursive: true });
  const bundle = join(WORK, 'bundle-20x6x300');
  if (!existsSync(join(bundle, '.complete'))) generateJstackCorpus(bundle, { nodes: 20, samples: 6, threads: 300 });
  // One node's samples in one file, many times over: parsed in pieces when the parser streams.
  const big = join(WORK, 'big-one-node.txt');
  if (!existsSync(big)) {
    for (let copy = 0; copy < 5; copy++)
      for (let n = 0; n < 20; n++)
        for (let s = 0; s < 6; s++) appendFileSync(big, readFileSync(join(bundle, `node${n}`, `${s}.txt`)));
  }
  // A dump copied out of a log: every line carries the logger's prefix.
  const prefixed = join(WORK, 'prefixed.txt');
  const source = files.find((f) => f.includes('08-jdk11')) ?? files[0]!;
  writeFileSync(
    prefixed,
    readFileSync(source, 'utf8')
      .split('\n')
      .map((l, i) => `2024-01-01 12:00:${String(i % 60).padStart(2, '0')},123 INFO [main] ${l}`)
      .join('\n'),
  );
  for (const f of [...files, prefixed]) {
    const base = f.slice(f.lastIndexOf('/') + 1);
    cases.push({ name: `analyze-${base}`, args: ['analyze', f, '--json', '--detail'] });
    cases.push({ name: `parse-${base}`, args: ['parse', f, '--json'] });
  }
  cases.push({ name: 'analyze-bundle', args: ['analyze', bundle, '--json', '--detail'] });
  cases.push({
    name: 'parse-bundle-node3',
    args: ['parse', '--json', ...[0, 1, 2].map((s) => join(bundle, 'node3', `${s}.txt`))],
  });
  cases.push({
    name: 'analyze-node-flags',
    args: [
      'analyze',
      '--json',
      ...[0, 1, 2].flatMap((s) => [0, 1].map((n) => `--node=n${n}=${join(bundle, `node${n}`, `${s}.txt`)}`)),
    ],
  });
  cases.push({ name: 'analyze-big-one-node', args: ['analyze', big, '--json'] });
  cases.push({ name: 'parse-big-one-node', args: ['parse', big] });
  cases.push({ name: 'parse-files-text', args: ['parse', '--threads', ...files] });
  const contract = '/tmp/rollcall-contract-corpus';
  if (existsSync(join(contract, 'node99', '5.txt')))
    cases.push({ name: 'analyze-contract-corpus', args: ['analyze', contract, '--json'] });
  return cases;
}

function run(c: Case): string {
  const r = spawnSync(process.execPath, [CLI, ...c.args], { encoding: 'utf8', maxBuffer: MAX_OUTPUT_BYTES });
  return `exit ${r.status}\n--- stderr\n${r.stderr}--- stdout\n${r.stdout}`;
}

function main(): void {
  const [mode, dir] = process.argv.slice(2);
  if ((mode !== 'save' && mode !== 'compare') || dir === undefined) {
    console.error('usage: node dist/bench/same-results.js save DIR | compare DIR');
    process.exit(2);
  }
  if (!existsSync(CLI)) {
    console.error(`${CLI} is missing: run npm run build first`);
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  let differ = 0;
  let compared = 0;
  for (const c of inputs()) {
    const out = run(c);
    const file = join(dir, `${c.name}.out`);
    if (mode === 'save') {
      writeFileSync(file, out);
      console.log(`saved ${c.name} (${out.length} chars)`);
      continue;
    }
    if (!existsSync(file)) {
      console.log(`no saved output for ${c.name}`);
      continue;
    }
    compared++;
    const before = readFileSync(file, 'utf8');
    if (before === out) {
      console.log(`same    ${c.name}`);
      continue;
    }
    differ++;
    const a = before.split('\n');
    const b = out.split('\n');
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    console.log(
      `DIFFERS ${c.name} at line ${i + 1}:\n  before: ${a[i]?.slice(0, 300)}\n  after:  ${b[i]?.slice(0, 300)}`,
    );
    writeFileSync(join(dir, `${c.name}.after`), out);
  }
  if (mode === 'compare') {
    console.log(`${compared - differ} of ${compared} outputs identical`);
    if (differ > 0) process.exitCode = 1;
  }
}

main();
