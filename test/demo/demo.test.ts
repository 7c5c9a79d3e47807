import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), 'rollcall-demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rollcall demo (default settings, as npm start runs it)', () => {
  it('reproduces, proves, predicts and fixes the deadlock, and writes the report and bundle', async () => {
    const { stdout } = await run(process.execPath, ['dist/src/cli/bin.js', 'demo', '--out', dir], {
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toMatch(/1\. legacy rolllog: (timeout|failed) after [\d,]+ ms/);
    expect(stdout).toMatch(/verdict DEADLOCK/);
    expect(stdout).toMatch(/cycle \((distributed|pool-starvation), \d+ nodes\):/);
    expect(stdout).toMatch(/BackupService\.sanityCheckLogRoll/);
    expect(stdout).toMatch(/2\. with online detection: deadlock proven after [\d,]+ ms/);
    expect(stdout).toMatch(/predicts the deadlock from (2[7-9]|3[01]) workers/);
    expect(stdout).toMatch(/4\. fixed mode \(no callback\): 20\/20 ok, p50 [\d.]+ ms/);
    const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).toContain('The scale cliff');
    expect(existsSync(path.join(dir, 'bundle', 'manifest.json'))).toBe(true);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'bundle', 'manifest.json'), 'utf8')) as {
      captures: { error?: string }[];
    };
    expect(manifest.captures).toHaveLength(61 * 3);
    expect(manifest.captures.filter((c) => c.error)).toEqual([]);
  }, 150_000);
});
