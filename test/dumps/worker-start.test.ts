// The early size look that decides whether a command starts parsing threads before it loads the
// parser: it sums files and walks directories, stops once the input is known to be large, and
// says "unknown" for a pipe. (That the pool takes the early workers and parses exactly as the main
// thread does is checked on the built CLI in workers.test.ts.)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { estimateInputBytes, IN_THREAD_MAX_BYTES, parseWorkersFor } from '../../src/dumps/worker-start.js';

const tmp = mkdtempSync(join(tmpdir(), 'rollcall-worker-start-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('estimateInputBytes', () => {
  const tree = join(tmp, 'tree');
  mkdirSync(join(tree, 'a', 'b'), { recursive: true });
  writeFileSync(join(tree, 'one.txt'), Buffer.alloc(1000));
  writeFileSync(join(tree, 'a', 'two.txt'), Buffer.alloc(2000));
  writeFileSync(join(tree, 'a', 'b', 'three.txt'), Buffer.alloc(3000));

  it('sums the files of directories walked, and files given', () => {
    expect(estimateInputBytes([tree], Infinity)).toBe(6000);
    expect(estimateInputBytes([join(tree, 'one.txt'), join(tree, 'a', 'b')], Infinity)).toBe(4000);
  });

  it('stops once the input is known to be at least the size asked about', () => {
    const seen = estimateInputBytes([tree], 1);
    expect(seen).toBeGreaterThanOrEqual(1);
    expect(seen).toBeLessThan(6000);
  });

  it('counts what it cannot read as nothing (it is reported when read for real)', () => {
    expect(estimateInputBytes([join(tmp, 'missing'), join(tree, 'one.txt')], Infinity)).toBe(1000);
  });

  it('says unknown for a pipe, which then gets its parsing threads', () => {
    const fifo = join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(estimateInputBytes([fifo], Infinity)).toBeUndefined();
    expect(parseWorkersFor(undefined, true)).toBeGreaterThan(0);
    expect(parseWorkersFor(IN_THREAD_MAX_BYTES - 1, true)).toBe(0);
  });
});
