// The feed reads any input in bounded parts: a large file, a pipe, a device; what it hands out is
// what parsing each file whole gives.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DumpFeed, FeedInputError, type FileDone } from '../../src/dumps/feed.js';
import { FrameTable } from '../../src/dumps/frames.js';
import type { ProcessDump } from '../../src/dumps/model.js';
import { parseDumpFileSync } from '../../src/dumps/parse.js';
import { InputLimitError, PieceReader } from '../../src/dumps/pieces.js';

const SHARED_DUMPS = fileURLToPath(new URL('../../../shared/dumps/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rollcall-feed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The jstack-family shared dumps, one after another, several times: about 1 MB. */
const bigText = Array.from({ length: 4 }, () =>
  readdirSync(SHARED_DUMPS)
    .filter((f) => f.endsWith('.txt') && !f.includes('stacks-servlet'))
    .map((f) => readFileSync(join(SHARED_DUMPS, f), 'utf8'))
    .join('\n'),
).join('\n');
const bigFile = join(dir, 'big.txt');
writeFileSync(bigFile, bigText);

async function drain(feed: DumpFeed, source = 0): Promise<ProcessDump[]> {
  const out: ProcessDump[] = [];
  for (;;) {
    const d = await feed.next(source);
    if (d === 'done') return out;
    if (d !== null) out.push(d);
  }
}

function plain(x: unknown): unknown {
  return JSON.parse(
    JSON.stringify(x, (k, v: unknown) =>
      k === 'frames' && Array.isArray(v) ? v.map((f: { text: string }) => f.text) : v,
    ),
  );
}

/** Reads `path` through the feed in parts of `partBytes`; returns the dumps and the file's totals. */
async function viaFeed(
  path: string,
  partBytes: number,
  frames: FrameTable,
): Promise<{ dumps: ProcessDump[]; done: FileDone }> {
  let done: FileDone | undefined;
  const feed = new DumpFeed([{ name: 'n', files: [path] }], {
    frames,
    workers: 0,
    partBytes,
    keepUnparsed: true,
    onFile: (f) => (done = f),
  });
  try {
    const dumps = await drain(feed);
    return { dumps, done: done! };
  } finally {
    await feed.close();
  }
}

describe('the feed', () => {
  it('reads a file in parts exactly as parsing it whole', async () => {
    const frames = new FrameTable();
    const whole = parseDumpFileSync(bigFile, { keepUnparsed: true, maxUnparsedListed: 1000, frames });
    const { dumps, done } = await viaFeed(bigFile, 40_000, frames);
    expect(whole.dumps.length).toBeGreaterThan(20);
    expect(plain(dumps)).toEqual(plain(whole.dumps));
    const { dumps: _d, ...totals } = whole;
    expect(plain({ ...done, dumps: undefined, source: undefined, file: undefined, dumpNodes: undefined })).toEqual(
      plain(totals),
    );
  });

  it('reads a pipe, whose size nobody knows', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', bigFile, fifo], { stdio: 'ignore' });
    const exited = new Promise((resolve) => writer.on('exit', resolve));
    const frames = new FrameTable();
    const { dumps, done } = await viaFeed(fifo, 40_000, frames);
    await exited;
    expect(done.bytes).toBe(Buffer.byteLength(bigText));
    expect(plain(dumps)).toEqual(plain(parseDumpFileSync(bigFile, { keepUnparsed: true, frames }).dumps));
  });

  it('refuses a device of endless zeros after reading its head', async () => {
    const feed = new DumpFeed([{ name: 'z', files: ['/dev/zero'] }], { frames: new FrameTable(), workers: 0 });
    try {
      await expect(drain(feed)).rejects.toThrow(FeedInputError);
      await expect(feed.next(0)).resolves.toBe('done');
    } finally {
      await feed.close();
    }
    const again = new DumpFeed([{ name: 'z', files: ['/dev/zero'] }], { frames: new FrameTable(), workers: 0 });
    try {
      await expect(drain(again)).rejects.toThrow(/\/dev\/zero: binary data/);
    } finally {
      await again.close();
    }
  });

  it('refuses a dump larger than the limit once that much is read, not after reading everything', async () => {
    // Thread blocks and no dump header: nowhere to split.
    const block = '"t" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable  [0x0]\n   java.lang.Thread.State: RUNNABLE\n\n';
    const path = join(dir, 'one-dump.txt');
    writeFileSync(path, 'Full thread dump OpenJDK:\n' + block.repeat(20_000));
    const fh = await open(path, 'r');
    try {
      const reader = new PieceReader(fh, 10_000, 300_000);
      await expect(reader.next()).rejects.toThrow(InputLimitError);
      // What is left unread is most of the file.
      const size = (await fh.stat()).size;
      const { bytesRead } = await fh.read(Buffer.alloc(size), 0, size, null);
      expect(bytesRead).toBeGreaterThan(size - 1_000_000);
      expect(size).toBeGreaterThan(1_500_000);
    } finally {
      await fh.close();
    }
  });
});
