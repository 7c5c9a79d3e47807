// Issue 16 row 6: only a torn tail is ever cut. Damage anywhere else refuses to open (naming the
// file and byte offset, changing nothing) until `verify --repair` quarantines it with a copy kept —
// so no acknowledged record is ever lost silently. On real files and on the simulated disk.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BackupSystemTable,
  BACKUP_TABLE_LOG,
  CorruptDataError,
  Wal,
  encodeRecord,
  scanRecords,
  segmentName,
  verifyBackupTable,
  verifyWal,
  type FileVerdict,
} from '../../src/cluster/index.js';
import { RealClock, RealDisk } from '../../src/substrate/real/index.js';
import { SimWorld } from '../../src/substrate/sim/index.js';
import { macrotaskHop } from '../../src/sim/drive.js';
import { joinPath, type Clock, type Disk } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { tempDirs } from '../support/tempdir.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const tempDir = tempDirs('rollcall-corrupt');

function flip(data: Uint8Array, bit: number): Uint8Array {
  const out = data.slice();
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('records: torn tails and corruption', () => {
  const records = ['\u0001alpha', '\u0001be', '\u0003{"seq":1}', '\u0001a longer entry with more bytes in it'].map(
    (t) => encodeRecord(enc.encode(t)),
  );
  const whole = concat(records);
  const boundaries = new Set(records.reduce<number[]>((acc, r) => [...acc, (acc.at(-1) ?? 0) + r.length], [0]));

  it('classifies every single-bit flip of a log of whole records as corruption, never as a torn tail', () => {
    for (let bit = 0; bit < whole.length * 8; bit++) {
      const scan = scanRecords(flip(whole, bit));
      expect(scan.damage?.kind, `bit ${bit}`).toBe('corrupt');
      expect(scan.tornBytes).toBe(0);
      // The damage starts at the record holding the flipped bit.
      const at = [...boundaries].filter((b) => b <= bit >> 3).pop()!;
      expect(scan.damage!.offset, `bit ${bit}`).toBe(at);
    }
  });

  it('classifies every crash-cut prefix as clean (at a record boundary) or a torn tail', () => {
    for (let cut = 0; cut <= whole.length; cut++) {
      const scan = scanRecords(whole.subarray(0, cut));
      if (boundaries.has(cut)) expect(scan.damage, `cut ${cut}`).toBeUndefined();
      else {
        expect(scan.damage?.kind, `cut ${cut}`).toBe('torn');
        expect(scan.validBytes + scan.tornBytes).toBe(cut);
      }
    }
  });

  it('takes a zero-filled tail (allocated, never written) as torn, but zeros before records as corruption', () => {
    const zeros = new Uint8Array(4096);
    expect(scanRecords(concat([whole, zeros])).damage).toMatchObject({ kind: 'torn', offset: whole.length });
    const inside = concat([records[0]!, zeros, records[1]!]);
    expect(scanRecords(inside).damage).toMatchObject({ kind: 'corrupt', offset: records[0]!.length });
  });

  it('calls a damaged length whose bytes still match the checksum corruption, even on the last record', () => {
    const last = whole.length - records[3]!.length;
    const longer = whole.slice();
    longer[last + 2] = 0x7f; // length now far past the end of the file
    expect(scanRecords(longer).damage).toMatchObject({ kind: 'corrupt', offset: last });
  });
});

/** The repro: one flipped bit in record 11 of 151 cost 141 acknowledged records. */
describe('the backup table refuses to open over corruption instead of cutting', () => {
  it('names the file and offset, changes nothing, and a repair keeps the rest with a copy', async () => {
    const dir = tempDir();
    const disk = new RealDisk();
    const clock = new RealClock();
    const t = await BackupSystemTable.open(disk, dir, clock);
    for (let i = 0; i < 151; i++) {
      await t.writeRegionServerLastLogRollResult(undefined, [
        { backupRoot: 'r', server: `w${i}`, segment: i, rolledAtMs: i },
      ]);
    }
    await t.close();
    const path = joinPath(dir, BACKUP_TABLE_LOG);
    const pristine = await disk.readFile(path);
    const offsets = scanRecords(pristine).offsets;
    const flipped = flip(pristine, (offsets[10]! + 20) * 8 + 3);
    await disk.writeFile(path, flipped);

    const logs: string[] = [];
    const refused = await BackupSystemTable.open(disk, dir, clock, (m) => logs.push(m)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CorruptDataError);
    expect((refused as Error).message).toContain(`corrupt data in ${path} at byte ${offsets[10]}`);
    expect(logs.join()).not.toMatch(/cutting/);
    expect(await disk.readFile(path)).toEqual(flipped);

    const check = await verifyBackupTable(disk, dir, { repair: false, clock });
    expect(check).toMatchObject({
      status: 'corrupt',
      records: 150,
      damage: [{ kind: 'corrupt', offset: offsets[10] }],
    });
    expect(await disk.readFile(path)).toEqual(flipped);

    const repaired = (await verifyBackupTable(disk, dir, { repair: true, clock }))!;
    expect(repaired.quarantine).toMatch(/backup-system-table\.log\.corrupt-\d{8}T\d{6}Z$/);
    expect(await disk.readFile(repaired.quarantine!)).toEqual(flipped);
    const reopened = await BackupSystemTable.open(disk, dir, clock);
    const servers = new Set(reopened.rows('r').map((r) => r.server));
    expect(servers.size).toBe(150);
    expect(servers.has('w10')).toBe(false);
    await reopened.close();
    expect((await verifyBackupTable(disk, dir, { repair: false, clock }))!.status).toBe('ok');
  });
});

describe('the WAL refuses to open over corruption instead of cutting', () => {
  it('a flip 25 % into a segment: refused with the offset, data untouched; repaired, it loses one entry', async () => {
    const dir = tempDir();
    const disk = new RealDisk();
    const clock = new RealClock();
    const wal = await Wal.open({ disk, dir, clock });
    for (let i = 0; i < 400; i++) await wal.append(enc.encode(`entry ${i}`));
    await wal.sync();
    await wal.abandon(); // a crash: the segment stays unsealed, every entry synced
    const path = joinPath(dir, segmentName(1));
    const pristine = await disk.readFile(path);
    const bit = Math.floor(pristine.length * 0.25) * 8;
    const flipped = flip(pristine, bit);
    await disk.writeFile(path, flipped);
    const offset = scanRecords(flipped).validBytes;

    const refused = await Wal.open({ disk, dir, clock }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CorruptDataError);
    expect((refused as Error).message).toContain(`corrupt data in ${path} at byte ${offset}`);
    expect(await disk.readFile(path)).toEqual(flipped);
    expect(await disk.list(dir)).toEqual([segmentName(1)]);

    const [repaired] = await verifyWal(disk, dir, { repair: true, clock });
    expect(repaired).toMatchObject({ status: 'corrupt', damage: [{ offset }] });
    expect(await disk.readFile(repaired!.quarantine!)).toEqual(flipped);
    const reopened = await Wal.open({ disk, dir, clock });
    await reopened.close();
    const entries = (await Wal.read(disk, dir)).flatMap((s) => s.entries.map((e) => dec.decode(e)));
    expect(entries).toHaveLength(399);
  });

  it('a torn tail in a segment older than the last two is corruption (no crash leaves one there)', async () => {
    const dir = tempDir();
    const disk = new RealDisk();
    const clock = new RealClock();
    const threads = new ThreadRegistry('w', 'worker', process.pid, clock);
    const wal = await Wal.open({ disk, dir, clock });
    for (let i = 0; i < 3; i++) {
      await wal.append(enc.encode(`entry ${i}`));
      await wal.roll(threads.spawn('t'));
    }
    await wal.close();
    const path = joinPath(dir, segmentName(1));
    const data = await disk.readFile(path);
    await disk.writeFile(path, data.subarray(0, data.length - 3));
    const refused = await Wal.open({ disk, dir, clock }).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(
      /wal\.000000000001 at byte \d+ \(partial record .*older than the last two/,
    );
  });
});

// ---- The acceptance property: random bit flips across a node's WAL and backup table files. ----

interface Ack {
  file: string;
  offset: number;
  framed: Uint8Array;
}

interface Env {
  disk: Disk;
  clock: Clock;
  /** Runs disk work to completion (the simulated disk needs its world driven). */
  drive<T>(work: () => Promise<T>): Promise<T>;
  root: string;
}

/** A node's data as a crash leaves it: sealed segments, an unsealed active one, the table, a torn tail. */
async function buildNode(env: Env, entriesPerSegment: number, tableRows: number, torn: boolean): Promise<void> {
  const { disk, clock, root } = env;
  const threads = new ThreadRegistry('w', 'worker', 1, clock);
  const wal = await Wal.open({ disk, dir: joinPath(root, 'wal'), clock, preallocate: 2 });
  for (let seg = 0; seg < 3; seg++) {
    for (let i = 0; i < entriesPerSegment; i++) await wal.append(enc.encode(`e${seg}.${i}:${'x'.repeat(i % 9)}`));
    if (seg < 2) await wal.roll(threads.spawn(`roll-${seg}`));
  }
  await wal.sync();
  const active = joinPath(root, 'wal', segmentName(wal.currentSegment));
  await wal.abandon();
  const table = await BackupSystemTable.open(disk, joinPath(root, 'backup'), clock);
  for (let i = 0; i < tableRows; i++) {
    await table.writeRegionServerLastLogRollResult(undefined, [
      { backupRoot: 'r', server: `w${i}`, segment: i, rolledAtMs: i },
    ]);
  }
  await table.close();
  if (torn) {
    // An append the crash cut short: never synced, never acknowledged.
    const f = await disk.openAppend(active);
    await f.append(encodeRecord(enc.encode('\u0001not acknowledged')).subarray(0, 11));
    await f.sync();
    await f.close();
  }
}

async function nodeFiles(env: Env): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['wal', 'backup']) {
    const dir = joinPath(env.root, sub);
    for (const name of await env.disk.list(dir)) {
      const path = joinPath(dir, name);
      if (((await env.disk.size(path)) ?? 0) > 0) out.push(path);
    }
  }
  return out;
}

/** Every acknowledged record: WAL entries and table records, where they are. */
async function acknowledged(env: Env, files: string[]): Promise<Ack[]> {
  const acks: Ack[] = [];
  for (const file of files) {
    const data = await env.disk.readFile(file);
    const scan = scanRecords(data);
    scan.records.forEach((payload, i) => {
      const offset = scan.offsets[i]!;
      const isEntry = file.includes('/wal/') && payload[0] === 1;
      if (isEntry || file.endsWith(BACKUP_TABLE_LOG)) {
        acks.push({ file, offset, framed: data.slice(offset, offset + 8 + payload.length) });
      }
    });
  }
  return acks;
}

/** Opens what a node opens; a refusal must be a CorruptDataError naming a file and offset. */
async function openNode(env: Env): Promise<{ refused: CorruptDataError[] }> {
  const refused: CorruptDataError[] = [];
  const attempt = async (open: () => Promise<{ close(): Promise<void> }>): Promise<void> => {
    try {
      await (await open()).close();
    } catch (err) {
      if (!(err instanceof CorruptDataError)) throw err;
      expect(err.message).toMatch(/^corrupt data in \S+ at byte \d+ /);
      refused.push(err);
    }
  };
  await attempt(() => Wal.open({ disk: env.disk, dir: joinPath(env.root, 'wal'), clock: env.clock }));
  await attempt(() => BackupSystemTable.open(env.disk, joinPath(env.root, 'backup'), env.clock));
  return { refused };
}

function present(ack: Ack, data: Uint8Array): boolean {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(ack.framed) >= 0;
}

/** Cases whose open was refused: the property must exercise refusals and repairs, not only clean opens. */
const outcomes = { refused: 0, opened: 0 };

async function flipsLoseNothingSilently(
  env: Env,
  flips: { file: number; bit: number }[],
  torn: boolean,
): Promise<void> {
  await env.drive(() => buildNode(env, 40, 30, torn));
  const files = await env.drive(() => nodeFiles(env));
  const acks = await env.drive(() => acknowledged(env, files));
  const hit = new Set<string>();
  for (const f of flips) {
    const file = files[f.file % files.length]!;
    const data = await env.drive(() => env.disk.readFile(file));
    await env.drive(() => env.disk.writeFile(file, flip(data, f.bit % (data.length * 8))));
    hit.add(file);
  }
  const before = new Map<string, Uint8Array>();
  for (const file of files) before.set(file, await env.drive(() => env.disk.readFile(file)));

  const first = await env.drive(() => openNode(env));
  outcomes[first.refused.length > 0 ? 'refused' : 'opened']++;
  const verdicts: FileVerdict[] = [];
  if (first.refused.length > 0) {
    // A refused open changed nothing in its store (the other one may have opened and recovered),
    // and named a file that was damaged.
    for (const r of first.refused) {
      expect(hit.has(r.path)).toBe(true);
      const store = r.path.slice(0, r.path.lastIndexOf('/') + 1);
      for (const file of files.filter((f) => f.startsWith(store))) {
        expect(await env.drive(() => env.disk.readFile(file))).toEqual(before.get(file));
      }
    }
    const opts = { repair: true, clock: env.clock };
    verdicts.push(...(await env.drive(() => verifyWal(env.disk, joinPath(env.root, 'wal'), opts))));
    const table = await env.drive(() => verifyBackupTable(env.disk, joinPath(env.root, 'backup'), opts));
    if (table) verdicts.push(table);
    for (const v of verdicts.filter((x) => x.status === 'corrupt')) {
      expect(v.quarantine).toBeDefined();
      expect(await env.drive(() => env.disk.readFile(v.quarantine!))).toEqual(before.get(v.path));
    }
    expect((await env.drive(() => openNode(env))).refused).toEqual([]);
  }
  // Every acknowledged record is still there, or it lies in damage a repair reported and copied.
  for (const ack of acks) {
    const now = await env.drive(() => env.disk.readFile(ack.file));
    if (present(ack, now)) continue;
    const v = verdicts.find((x) => x.path === ack.file);
    const covered = v?.damage.some((d) => ack.offset < d.offset + d.bytes && d.offset < ack.offset + ack.framed.length);
    expect(covered, `acknowledged record at ${ack.file}:${ack.offset} lost without a report`).toBe(true);
    expect(v!.quarantine).toBeDefined();
  }
}

const flipsArb = fc.array(fc.record({ file: fc.nat(), bit: fc.nat() }), { minLength: 1, maxLength: 4 });

describe('random bit flips across WAL and backup-table files lose no acknowledged record silently', () => {
  it('on real files', async () => {
    await fc.assert(
      fc.asyncProperty(flipsArb, fc.boolean(), async (flips, torn) => {
        const root = tempDir();
        const env: Env = { disk: new RealDisk(), clock: new RealClock(), drive: (w) => w(), root };
        await flipsLoseNothingSilently(env, flips, torn);
      }),
      { seed: 16, numRuns: 40 },
    );
    expect(outcomes.refused).toBeGreaterThan(30);
  });

  it('on the simulated disk', async () => {
    await fc.assert(
      fc.asyncProperty(flipsArb, fc.boolean(), async (flips, torn) => {
        const world = new SimWorld({ seed: 16, hop: macrotaskHop });
        const node = world.addNode('n');
        const env: Env = {
          disk: node.disk,
          clock: node.clock,
          root: '/data/n',
          drive: async (work) => {
            const p = work();
            await world.run(p);
            return p;
          },
        };
        await flipsLoseNothingSilently(env, flips, torn);
      }),
      { seed: 61, numRuns: 40 },
    );
  });
});
