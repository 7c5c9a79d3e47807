// Secrets and TLS files on the command line: a wrong or missing secret, a directory, a file others
// can read, half the TLS flags — each is exit 2 with one line saying what to do, never a trace.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCliPath, startNode, type RunningNode } from '../../src/runtime/index.js';
import { certFiles } from '../support/certs.js';
import { nodeArgs } from '../support/cli.js';

const cli = defaultCliPath();

/** Runs the built CLI without blocking this process (the master it talks to lives here). */
function rollcall(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => resolve({ status, stderr }));
  });
}

function expectOneLine(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

let dir: string;
let master: RunningNode;
const file = (name: string): string => join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollcall-secrets-'));
  writeFileSync(file('good'), 'the cluster secret: 0123456789abcdef\n', { mode: 0o600 });
  writeFileSync(file('other'), 'some other cluster: 0123456789abcdef\n', { mode: 0o600 });
  writeFileSync(file('open'), 'the cluster secret: 0123456789abcdef\n');
  chmodSync(file('open'), 0o666);
  writeFileSync(file('short'), 'tiny\n', { mode: 0o600 });
  mkdirSync(file('dir'));
  master = await startNode({
    role: 'master',
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    dataDir: file('master'),
    security: { secretFile: file('good') },
    log: () => {},
  });
});
afterAll(async () => {
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the cluster secret on the command line', () => {
  it('a directory, a missing file, a short secret: one line each', async () => {
    expectOneLine(
      await rollcall(['rolllog', '--nodes', '2', '--secret-file', file('dir')]),
      /^rollcall: secret file \S+ is a directory; pass the file itself$/m,
    );
    expectOneLine(
      await rollcall(['rolllog', '--master', master.rpc, '--secret-file', file('missing')]),
      /secret file \S+missing does not exist/,
    );
    expectOneLine(
      await rollcall(nodeArgs('master', file('n1'), '--secret-file', file('short'))),
      /holds 4 bytes; the cluster secret needs at least 16/,
    );
  });

  it('a secret file others can read is refused, saying how to fix it (as ssh does)', async () => {
    const r = await rollcall(nodeArgs('master', file('n2'), '--secret-file', file('open')));
    expectOneLine(r, /permissions 0666 for secret file \S+open are too open: .* \(run: chmod 600 \S+open\)/);
  });

  it('the wrong secret, or none, against a secured master: exit 2, one line', async () => {
    expectOneLine(
      await rollcall(['rolllog', '--master', master.rpc, '--secret-file', file('other')]),
      /cannot reach the master: .*TLS handshake with 127\.0\.0\.1:\d+ failed \(.+\): does the peer use the same cluster secret\?/,
    );
    expectOneLine(
      await rollcall(['rolllog', '--master', master.rpc]),
      /cannot reach the master: .*the peer speaks TLS: pass the cluster secret \(--secret-file\)/,
    );
    const [, port] = master.rpc.split(':');
    expectOneLine(
      await rollcall(nodeArgs('worker', file('w1'), '--master', `127.0.0.1:${port}`, '--secret-file', file('other'))),
      /cannot register with the master: .*does the peer use the same cluster secret\?/,
    );
  });

  it('certificates on the command line: an in-process cluster over mutual TLS', async () => {
    const files = certFiles('node-1');
    try {
      const r = await rollcall([
        'rolllog',
        '--nodes',
        '2',
        '--tls-cert',
        files.cert,
        '--tls-key',
        files.key,
        '--tls-ca',
        files.ca,
      ]);
      expect(r.status, r.stderr).toBe(0);
      chmodSync(files.key, 0o644);
      expectOneLine(
        await rollcall([
          'rolllog',
          '--nodes',
          '2',
          '--tls-cert',
          files.cert,
          '--tls-key',
          files.key,
          '--tls-ca',
          files.ca,
        ]),
        /permissions 0644 for TLS key \S+ are too open/,
      );
    } finally {
      files.remove();
    }
  });

  it('the TLS flags go together', async () => {
    expectOneLine(
      await rollcall(['rolllog', '--nodes', '2', '--tls-cert', file('good')]),
      /--tls-cert, --tls-key and --tls-ca go together/,
    );
  });
});
