import { mkdtempSync, rmSync, appendFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupSystemTable, Wal, crc32, encodeRecord, scanRecords, segmentName } from '../../src/cluster/index.js';
import { WalLoadGenerator } from '../../src/cluster/loadgen.js';
import { RealClock, RealDisk } from '../../src/substrate/real/index.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { until } from '../support/gate.js';

const disk = new RealDisk();
const clock = new RealClock();
let dir: string;
let threads: ThreadRegistry;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rollcall-wal-'));
  threads = new ThreadRegistry('w', 'worker', process.pid, clock);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const enc = new TextEncoder();

describe('records and CRC-32', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('computes the same CRC-32 eight bytes at a time as a byte at a time, over any range', () => {
    const table = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const reference = (d: Uint8Array, start: number, end: number): number => {
      let c = 0xffffffff;
      for (let i = start; i < end; i++) c = table[(c ^ d[i]!) & 0xff]! ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (d, a, b) => {
        const start = d.length === 0 ? 0 : a % d.length;
        const end = start + (b % (d.length - start + 1));
        expect(crc32(d, start, end)).toBe(reference(d, start, end));
      }),
      { seed: 32, numRuns: 500 },
    );
  });

  it('stops at a torn or corrupt record and reports the valid prefix', () => {
    const a = encodeRecord(enc.encode('alpha'));
    const b = encodeRecord(enc.encode('beta'));
    const whole = new Uint8Array([...a, ...b]);
    expect(scanRecords(whole).records.length).toBe(2);
    const torn = whole.subarray(0, whole.length - 2);
    const s = scanRecords(torn);
    expect(s.records.length).toBe(1);
    expect(s.validBytes).toBe(a.length);
    expect(s.reason).toMatch(/partial record/);
    const corrupt = whole.slice();
    corrupt[a.length + 9] = corrupt[a.length + 9]! ^ 0xff;
    expect(scanRecords(corrupt).reason).toMatch(/checksum mismatch/);
  });
});

describe('WAL', () => {
  it('rolls: seals the closed segment and returns its number', async () => {
    const wal = await Wal.open({ disk, dir, clock });
    const t = threads.spawn('t');
    await wal.append(enc.encode('one'));
    const r1 = await wal.roll(t);
    expect(r1.highestClosed).toBe(1);
    await wal.prepareRoll(t);
    await wal.append(enc.encode('two'));
    const r2 = await wal.roll(t);
    expect(r2.highestClosed).toBe(2);
    await wal.close();
    const segs = await Wal.read(disk, dir);
    expect(segs.map((s) => [s.seq, s.sealed, s.entries.length])).toEqual([
      [1, true, 1],
      [2, true, 1],
      [3, true, 0],
    ]);
  });

  it('loses no entry across rolls under the load generator', async () => {
    const wal = await Wal.open({ disk, dir, clock, preallocate: 2, refillDelayMs: 5 });
    const gen = new WalLoadGenerator(() => wal, threads, clock, 20_000, 'w');
    gen.start();
    const t = threads.spawn('roller');
    let rolls = 0;
    let writtenAtRoll = 0;
    // Roll whenever the generator has made progress: rolls interleave with appends and syncs.
    while (rolls < 8) {
      if (gen.written === writtenAtRoll) {
        await t.waitOn(
          { kind: 'io', what: 'wait for appends' },
          until(() => gen.written !== writtenAtRoll, 'appends'),
        );
        continue;
      }
      writtenAtRoll = gen.written;
      if (rolls % 2 === 0) await wal.prepareRoll(t);
      await wal.roll(t);
      rolls++;
    }
    await gen.stop();
    await wal.close();
    expect(gen.written).toBeGreaterThan(0);
    const segs = await Wal.read(disk, dir);
    const readBack = segs.reduce((n, s) => n + s.entries.length, 0);
    expect(readBack).toBe(gen.written);
    // Entries are in order, each exactly once.
    const seqs = segs.flatMap((s) => s.entries.map((e) => Number(new TextDecoder().decode(e).split(' ')[1])));
    expect(seqs).toEqual(Array.from({ length: gen.written }, (_, i) => i + 1));
    expect(segs.filter((s) => !s.empty).every((s) => s.sealed)).toBe(true);
  });

  it('cuts a torn tail on reopen and keeps every whole entry', async () => {
    const logs: string[] = [];
    const wal = await Wal.open({ disk, dir, clock, log: (m) => logs.push(m) });
    for (let i = 0; i < 10; i++) await wal.append(enc.encode(`entry ${i}`));
    await wal.sync();
    await wal.abandon();
    // Crash: no seal. Then a torn half-record at the end, as a power cut mid-write leaves it.
    const path = join(dir, segmentName(1));
    const partial = encodeRecord(enc.encode('x'.repeat(100))).subarray(0, 50);
    appendFileSync(path, partial);
    const sizeWithTorn = statSync(path).size;
    const reopened = await Wal.open({ disk, dir, clock, log: (m) => logs.push(m) });
    expect(reopened.recovery.tornBytesCut).toBe(50);
    expect(reopened.recovery.sealed).toBe(1);
    expect(reopened.highestClosed).toBe(1);
    expect(reopened.currentSegment).toBe(2);
    expect(logs.some((l) => /cutting 50 torn bytes from wal\.000000000001/.test(l))).toBe(true);
    await reopened.close();
    const segs = await Wal.read(disk, dir);
    expect(segs[0]!.entries.map((e) => new TextDecoder().decode(e))).toEqual(
      Array.from({ length: 10 }, (_, i) => `entry ${i}`),
    );
    expect(segs[0]!.tornBytes).toBe(0);
    expect(segs[0]!.sealed).toBe(true);
    expect(statSync(path).size).toBeLessThan(sizeWithTorn + 64);
    // A corrupt (bit-flipped) tail record is cut too, never served.
  });

  it('preallocates future segments and reuses them after a restart', async () => {
    const wal = await Wal.open({ disk, dir, clock, preallocate: 3 });
    const t = threads.spawn('t');
    await wal.roll(t);
    await wal.close();
    const segs = await Wal.read(disk, dir);
    expect(segs.filter((s) => s.empty).length).toBeGreaterThanOrEqual(2);
    const again = await Wal.open({ disk, dir, clock, preallocate: 3 });
    // Continues after the last used segment, not after the preallocated ones.
    expect(again.currentSegment).toBe(3);
    expect(again.highestClosed).toBe(2);
    await again.close();
  });
});

describe('backup system table', () => {
  it('persists rows, skips stale ones, and survives a torn tail', async () => {
    const t = await BackupSystemTable.open(disk, dir, clock);
    await t.writeRegionServerLastLogRollResult(undefined, [
      { backupRoot: 'r', server: 'w1', segment: 3, rolledAtMs: 1 },
      { backupRoot: 'r', server: 'w2', segment: 5, rolledAtMs: 1 },
    ]);
    await t.writeRegionServerLastLogRollResult(undefined, [
      { backupRoot: 'r', server: 'w1', segment: 2, rolledAtMs: 2 },
    ]);
    expect(t.readRegionServerLastLogRollResult('r')).toEqual({ w1: 3, w2: 5 });
    await t.close();
    appendFileSync(join(dir, 'backup-system-table.log'), new Uint8Array([0, 0, 0, 9, 1, 2]));
    const logs: string[] = [];
    const t2 = await BackupSystemTable.open(disk, dir, clock, (m) => logs.push(m));
    expect(t2.readRegionServerLastLogRollResult('r')).toEqual({ w1: 3, w2: 5 });
    expect(logs.join()).toMatch(/cutting 6 torn bytes/);
    // Group commit: concurrent writers all become durable and visible.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t2.writeRegionServerLastLogRollResult(undefined, [
          { backupRoot: 'r', server: `x${i}`, segment: i, rolledAtMs: 0 },
        ]),
      ),
    );
    expect(t2.rows('r').length).toBe(22);
    await t2.close();
    const t3 = await BackupSystemTable.open(disk, dir, clock);
    expect(t3.rows('r').length).toBe(22);
    await t3.close();
  });
});
