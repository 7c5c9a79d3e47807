// Length- and checksum-framed records, shared by WAL segments and the backup table's log:
//   [u32 BE payload length][u32 BE CRC-32 of payload][payload]
//
// Damage comes in two kinds, and only one of them may ever be cut:
// - A torn tail: a crash in the middle of an append leaves a prefix of what was being written,
//   so the file ends in an incomplete record — a partial header, or a header announcing more bytes
//   than the file holds — or in zeros (blocks the file system allocated but never wrote). Those
//   bytes were never synced, so no one was told they were durable: the owner cuts them.
// - Corruption: anything else. A record whose checksum fails but whose bytes are all there, a
//   damaged length whose record still matches its checksum, damage with intact records after it.
//   Those bytes may have been acknowledged: the owner refuses to open and names the offset, and only
//   `rollcall verify --repair` drops them, keeping a copy.
// A single flipped bit anywhere in a file of whole records is always classified as corruption (the
// corruption test flips every bit of a small log): a length flipped past the end leaves the
// record's bytes matching its checksum, a flipped length inside the file moves the checksum. Damage
// to both the length and the payload of the very last record is indistinguishable from a torn write.
import { crc32 } from './crc32.js';

export const RECORD_HEADER_BYTES = 8;
/** A longer length field means corruption, not a record. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
/**
 * Bound on the bytes checksummed while looking for an intact record after damage: past it, the
 * search gives up and the damage counts as corruption (the safe verdict).
 */
export const RESYNC_BUDGET_BYTES = 512 * 1024 * 1024;

export function encodeRecord(payload: Uint8Array): Uint8Array {
  if (payload.length === 0) throw new Error('a record needs a payload');
  if (payload.length > MAX_RECORD_BYTES)
    throw new Error(`record of ${payload.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  view.setUint32(4, crc32(payload));
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

export interface Damage {
  /** 'torn': an incomplete last record (safe to cut); 'corrupt': never cut without a kept copy. */
  kind: 'torn' | 'corrupt';
  /** Byte offset where the damaged bytes start. */
  offset: number;
  /** Damaged bytes: up to the next intact record, or to the end of the file. */
  bytes: number;
  reason: string;
}

export interface RecordFormat {
  /**
   * Why an intact (checksummed) payload is still not one of the owner's records, or undefined when
   * it is. Such a record is corruption too.
   */
  invalid?: (payload: Uint8Array) => string | undefined;
  /** Whether a payload may start with this byte: skips hopeless candidates when resynchronizing. */
  firstByte?: (byte: number) => boolean;
}

export interface ScanResult {
  /** Intact records before the first damage. */
  records: Uint8Array[];
  /** Where each of them starts. */
  offsets: number[];
  /** Bytes from the start that hold whole, valid records (the first damage's offset, if any). */
  validBytes: number;
  /** Bytes after validBytes when they are a torn tail (safe to cut), else 0. */
  tornBytes: number;
  /** The first damage, torn or corrupt. */
  damage?: Damage;
  /** Why the scan stopped early (the first damage's reason). */
  reason?: string;
}

type ReadAt =
  { ok: true; end: number } | { ok: false; incomplete: boolean; reason: string; length?: number; crc?: number };

function readAt(data: Uint8Array, view: DataView, pos: number, format: RecordFormat): ReadAt {
  if (data.length - pos < RECORD_HEADER_BYTES) {
    return { ok: false, incomplete: true, reason: `partial header at byte ${pos}` };
  }
  const length = view.getUint32(pos);
  const crc = view.getUint32(pos + 4);
  if (length === 0) return { ok: false, incomplete: false, reason: `empty record at byte ${pos}` };
  if (length > MAX_RECORD_BYTES) {
    return { ok: false, incomplete: false, reason: `impossible length ${length} at byte ${pos}` };
  }
  const end = pos + RECORD_HEADER_BYTES + length;
  if (end > data.length) {
    const present = data.length - pos - RECORD_HEADER_BYTES;
    return {
      ok: false,
      incomplete: true,
      reason: `partial record at byte ${pos} (${length} bytes announced, ${present} present)`,
      length,
      crc,
    };
  }
  if (crc32(data, pos + RECORD_HEADER_BYTES, end) !== crc) {
    return { ok: false, incomplete: false, reason: `checksum mismatch at byte ${pos}` };
  }
  const invalid = format.invalid?.(data.subarray(pos + RECORD_HEADER_BYTES, end));
  if (invalid !== undefined) return { ok: false, incomplete: false, reason: `${invalid} at byte ${pos}` };
  return { ok: true, end };
}

/** The next offset after `from` where an intact record starts; 'gave-up' past the search budget. */
function nextIntact(
  data: Uint8Array,
  view: DataView,
  from: number,
  format: RecordFormat,
  budget: { bytes: number },
): number | undefined | 'gave-up' {
  for (let q = from; q + RECORD_HEADER_BYTES < data.length; q++) {
    const length = view.getUint32(q);
    if (length === 0 || length > data.length - q - RECORD_HEADER_BYTES) continue;
    if (format.firstByte && !format.firstByte(data[q + RECORD_HEADER_BYTES]!)) continue;
    budget.bytes -= length;
    if (budget.bytes < 0) return 'gave-up';
    if (readAt(data, view, q, format).ok) return q;
  }
  return undefined;
}

function allZero(data: Uint8Array, from: number): boolean {
  for (let i = from; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

/** Classifies the damage found at `pos` (see the file comment). */
function classify(
  data: Uint8Array,
  view: DataView,
  pos: number,
  bad: Extract<ReadAt, { ok: false }>,
  format: RecordFormat,
  budget: { bytes: number },
): Damage {
  const next = nextIntact(data, view, pos + 1, format, budget);
  const span = (typeof next === 'number' ? next : data.length) - pos;
  const corrupt = (reason: string): Damage => ({ kind: 'corrupt', offset: pos, bytes: span, reason });
  if (typeof next === 'number') return corrupt(`${bad.reason}, with intact records from byte ${next}`);
  if (allZero(data, pos)) {
    return { kind: 'torn', offset: pos, bytes: data.length - pos, reason: `zero-filled tail at byte ${pos}` };
  }
  if (!bad.incomplete) return corrupt(bad.reason);
  if (next === 'gave-up') return corrupt(`${bad.reason}; the search for intact records after it gave up`);
  if (bad.crc !== undefined && crc32(data, pos + RECORD_HEADER_BYTES, data.length) === bad.crc) {
    // The bytes to the end are a whole record: the length field is what was damaged.
    return corrupt(`damaged length at byte ${pos}: the record's bytes to the end match its checksum`);
  }
  return { kind: 'torn', offset: pos, bytes: data.length - pos, reason: bad.reason };
}

/** Reads records up to the first damage, and classifies that damage. */
export function scanRecords(data: Uint8Array, format: RecordFormat = {}): ScanResult {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const records: Uint8Array[] = [];
  const offsets: number[] = [];
  let pos = 0;
  while (pos < data.length) {
    const r = readAt(data, view, pos, format);
    if (!r.ok) {
      const damage = classify(data, view, pos, r, format, { bytes: RESYNC_BUDGET_BYTES });
      return {
        records,
        offsets,
        validBytes: pos,
        tornBytes: damage.kind === 'torn' ? damage.bytes : 0,
        damage,
        reason: damage.reason,
      };
    }
    records.push(data.subarray(pos + RECORD_HEADER_BYTES, r.end));
    offsets.push(pos);
    pos = r.end;
  }
  return { records, offsets, validBytes: pos, tornBytes: 0 };
}

export interface SalvageResult {
  /** Every intact record, wherever it is, with its offset and its whole framed bytes. */
  records: { offset: number; framed: Uint8Array; payload: Uint8Array }[];
  /** Every damaged span between them (only the last can be torn). */
  damage: Damage[];
}

/** Reads every intact record, stepping over damage: what a repair keeps. */
export function salvageRecords(data: Uint8Array, format: RecordFormat = {}): SalvageResult {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const records: SalvageResult['records'] = [];
  const damage: Damage[] = [];
  const budget = { bytes: RESYNC_BUDGET_BYTES };
  let pos = 0;
  while (pos < data.length) {
    const r = readAt(data, view, pos, format);
    if (r.ok) {
      records.push({
        offset: pos,
        framed: data.subarray(pos, r.end),
        payload: data.subarray(pos + RECORD_HEADER_BYTES, r.end),
      });
      pos = r.end;
      continue;
    }
    const d = classify(data, view, pos, r, format, budget);
    damage.push(d);
    pos += d.bytes;
  }
  return { records, damage };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(data: Uint8Array): string {
  return decoder.decode(data);
}

/** Raised when a node's data holds a damaged record it must not cut: it refuses to open, changing nothing. */
export class CorruptDataError extends Error {
  override name = 'CorruptDataError';
  constructor(
    readonly path: string,
    readonly damage: Damage,
  ) {
    super(`corrupt data in ${path} at byte ${damage.offset} (${damage.reason}); nothing was changed`);
  }
}
