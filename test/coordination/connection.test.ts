// The --coordination URL: strict parsing with readable errors, and exit code 2 at the CLI.
import { describe, expect, it } from 'vitest';
import { parseZkUrl, ZkUrlError } from '../../src/coordination/zookeeper/index.js';
import { checkSegment } from '../../src/coordination/zookeeper/layout.js';
import { main } from '../../src/cli/main.js';

describe('zookeeper:// URLs', () => {
  it('parses an ensemble and a chroot', () => {
    const spec = parseZkUrl('zookeeper://zk1.example:2181,zk2.example:2182/rollcall/prod');
    expect(spec.servers).toEqual([
      { host: 'zk1.example', port: 2181 },
      { host: 'zk2.example', port: 2182 },
    ]);
    expect(spec.chroot).toBe('/rollcall/prod');
    expect(spec.sessionTimeoutMs).toBeUndefined();
    expect(spec.url).toBe('zookeeper://zk1.example:2181,zk2.example:2182/rollcall/prod');
  });

  it('takes a session timeout and normalizes a trailing slash', () => {
    const spec = parseZkUrl('ZooKeeper://127.0.0.1:2181/rollcall/?sessionTimeoutMs=4000');
    expect(spec.chroot).toBe('/rollcall');
    expect(spec.sessionTimeoutMs).toBe(4000);
    expect(spec.url).toBe('zookeeper://127.0.0.1:2181/rollcall?sessionTimeoutMs=4000');
  });

  it.each([
    ['127.0.0.1:2181/rollcall', /takes zookeeper:\/\//],
    ['zk://127.0.0.1:2181/rollcall', /takes zookeeper:\/\//],
    ['zookeeper://127.0.0.1:2181', /no chroot/],
    ['zookeeper://127.0.0.1:2181/', /must not be '\/' alone/],
    ['zookeeper:///rollcall', /names no ZooKeeper server/],
    ['zookeeper://127.0.0.1/rollcall', /is not HOST:PORT/],
    ['zookeeper://127.0.0.1:99999/rollcall', /out of range/],
    ['zookeeper://127.0.0.1:2181,/rollcall', /'' is not HOST:PORT/],
    ['zookeeper://[::1]:2181/rollcall', /IPv6 literals are not supported/],
    ['zookeeper://127.0.0.1:2181/roll call', /segment 'roll call' is not allowed/],
    ['zookeeper://127.0.0.1:2181/a/../b', /segment '..' is not allowed/],
    ['zookeeper://127.0.0.1:2181/zookeeper', /segment 'zookeeper' is not allowed/],
    ['zookeeper://127.0.0.1:2181/r?sessionTimeoutMs=10', /from 1000 to 120000/],
    ['zookeeper://127.0.0.1:2181/r?timeout=10', /unknown parameter 'timeout'/],
  ])('rejects %s with a reason', (url, reason) => {
    expect(() => parseZkUrl(url)).toThrow(ZkUrlError);
    expect(() => parseZkUrl(url)).toThrow(reason);
  });

  it('refuses names that cannot be znodes', () => {
    expect(checkSegment('member name', 'worker@10.0.0.1:16020')).toBe('worker@10.0.0.1:16020');
    expect(() => checkSegment('member name', 'a/b')).toThrow(/cannot be a ZooKeeper znode name/);
    expect(() => checkSegment('member name', '')).toThrow(/cannot be a ZooKeeper znode name/);
  });

  it('exits 2 at the CLI with the reason, before starting anything', async () => {
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const code = await main([
        'node',
        'rollcall',
        'rolllog',
        '--nodes',
        '3',
        '--coordination',
        'zookeeper://localhost/x',
      ]);
      expect(code).toBe(2);
    } finally {
      process.stderr.write = original;
    }
    expect(writes.join('')).toMatch(/server 'localhost' is not HOST:PORT/);
  });
});
