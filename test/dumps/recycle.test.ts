// A result's buffer, once decoded and released, carries a later result: no fresh buffer (and its
// page faults) per result, and nothing of the earlier result shows through.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateJstackCorpus } from '../../bench/corpus.js';
import { FrameTable } from '../../src/dumps/frames.js';
import { ParsePool } from '../../src/dumps/pool.js';
import { decodeResult } from '../../src/dumps/wire.js';

const tmp = mkdtempSync(join(tmpdir(), 'rollcall-recycle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('result buffers', () => {
  generateJstackCorpus(tmp, { nodes: 2, samples: 3, threads: 40 });
  const files = readdirSync(tmp, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => readdirSync(join(tmp, e.name)).map((f) => join(tmp, e.name, f)));
  const job = (path: string) => ({ path, keepUnparsed: false, maxUnparsedListed: 0 });

  it('are reused once released, and decode as fresh ones do', async () => {
    const pool = new ParsePool(0, new FrameTable());
    const fresh = new ParsePool(0, new FrameTable());
    let previous: ArrayBuffer | undefined;
    for (const path of files) {
      const part = await pool.run(job(path));
      const buffer = part.received.wire.nums.buffer as ArrayBuffer;
      if (previous !== undefined) expect(buffer).toBe(previous);
      const decoded = decodeResult(part.received);
      part.release();
      previous = buffer;
      const reference = await fresh.run(job(path));
      expect(decoded).toEqual(decodeResult(reference.received));
      expect(decoded.dumps[0]!.threads.length).toBe(40);
    }
    await pool.close();
    await fresh.close();
  });

  it('are not reused while a result is held', async () => {
    const pool = new ParsePool(0, new FrameTable());
    const a = await pool.run(job(files[0]!));
    const b = await pool.run(job(files[1]!));
    expect(b.received.wire.nums.buffer).not.toBe(a.received.wire.nums.buffer);
    await pool.close();
  });
});
