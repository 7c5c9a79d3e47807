// Length- and checksum-framed records, shared by WAL segments and the backup table's log:
//   [u32 BE payload length][u32 BE CRC-32 of payload][payload]
// A crash can leave a torn tail (a partial header or payload, or bytes whose CRC does not
// match); a reader stops at the first such record and reports where the valid prefix ends, so the
// owner cuts the file there instead of serving garbage.
import { crc32 } from './crc32.js';

export const RECORD_HEADER_BYTES = 8;
/** A longer length field means corruption, not a record. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export function encodeRecord(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_RECORD_BYTES)
    throw new Error(`record of ${payload.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  view.setUint32(4, crc32(payload));
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

export interface ScanResult {
  records: Uint8Array[];
  /** Bytes from the start that hold whole, valid records. */
  validBytes: number;
  /** Bytes after validBytes (0 for a clean file). */
  tornBytes: number;
  /** Why the scan stopped early, when tornBytes > 0. */
  reason?: string;
}

export function scanRecords(data: Uint8Array): ScanResult {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const records: Uint8Array[] = [];
  let pos = 0;
  let reason: string | undefined;
  while (pos < data.length) {
    if (data.length - pos < RECORD_HEADER_BYTES) {
      reason = `partial header at byte ${pos}`;
      break;
    }
    const length = view.getUint32(pos);
    const crc = view.getUint32(pos + 4);
    if (length > MAX_RECORD_BYTES) {
      reason = `impossible length ${length} at byte ${pos}`;
      break;
    }
    const end = pos + RECORD_HEADER_BYTES + length;
    if (end > data.length) {
      reason = `partial record at byte ${pos} (${length} bytes announced, ${data.length - pos - RECORD_HEADER_BYTES} present)`;
      break;
    }
    if (crc32(data, pos + RECORD_HEADER_BYTES, end) !== crc) {
      reason = `checksum mismatch at byte ${pos}`;
      break;
    }
    records.push(data.subarray(pos + RECORD_HEADER_BYTES, end));
    pos = end;
  }
  return { records, validBytes: pos, tornBytes: data.length - pos, ...(reason ? { reason } : {}) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(data: Uint8Array): string {
  return decoder.decode(data);
}
