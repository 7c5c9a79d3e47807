// Frames between the simulated ZooKeeper client and server: a JSON header and the binary blobs it
// counts (znode data), so data bytes travel as they are and the trace hash covers them.
//
//   frame := u32 headerBytes | header (UTF-8 JSON) | blob 0 | blob 1 | ...   (header.blobs: lengths)
import type { ZkCreateMode, ZkErrorCode, ZkEventType, ZkStat } from '../../zookeeper.js';

/** One operation of a request; `blob` indexes the frame's blobs (create and set data). */
export interface WireOp {
  op: 'create' | 'delete' | 'check' | 'set' | 'exists' | 'getData' | 'getChildren';
  path: string;
  mode?: ZkCreateMode;
  version?: number;
  blob?: number;
  watch?: boolean;
}

/** Watches a client still holds, re-armed when its session resumes on a new connection. */
export interface WatchSet {
  data: string[];
  exist: string[];
  child: string[];
}

export type ClientMessage =
  /**
   * Opens a session (sid null) or resumes one on a new connection, with the last transaction the
   * client saw and the watches it holds (ZooKeeper's SetWatches): what changed since fires at once.
   */
  | { t: 'hello'; sid: string | null; timeoutMs: number; lastZxid: number; watches?: WatchSet }
  | { t: 'ping' }
  /** One operation, or several applied atomically (multi). */
  | { t: 'req'; xid: number; ops: WireOp[]; multi: boolean }
  | { t: 'close'; xid: number };

export type ServerMessage =
  | { t: 'welcome'; sid: string; timeoutMs: number }
  | { t: 'expired' }
  | { t: 'pong' }
  | {
      t: 'res';
      xid: number;
      /** The last transaction committed when the answer was made. */
      zxid: number;
      err?: ZkErrorCode;
      message?: string;
      path?: string;
      stat?: ZkStat | null;
      children?: string[];
      /** Index of the data blob (getData). */
      blob?: number;
    }
  | { t: 'event'; type: ZkEventType; path: string; zxid: number };

interface Header {
  blobs?: number[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER_LENGTH_BYTES = 4;

export function encodeFrame(message: ClientMessage | ServerMessage, blobs: readonly Uint8Array[] = []): Uint8Array {
  const header = encoder.encode(
    JSON.stringify(blobs.length > 0 ? { ...message, blobs: blobs.map((b) => b.byteLength) } : message),
  );
  let size = HEADER_LENGTH_BYTES + header.byteLength;
  for (const b of blobs) size += b.byteLength;
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, header.byteLength);
  out.set(header, HEADER_LENGTH_BYTES);
  let at = HEADER_LENGTH_BYTES + header.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

/** Decodes a frame; throws on a malformed one (the connection then closes, as a real server's would). */
export function decodeFrame<M>(frame: Uint8Array): { message: M; blobs: Uint8Array[] } {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.byteLength < HEADER_LENGTH_BYTES) throw new Error('ZooKeeper frame shorter than its header length');
  const headerBytes = view.getUint32(0);
  if (HEADER_LENGTH_BYTES + headerBytes > frame.byteLength) throw new Error('ZooKeeper frame header overruns it');
  const message = JSON.parse(
    decoder.decode(frame.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + headerBytes)),
  ) as M & Header;
  const blobs: Uint8Array[] = [];
  let at = HEADER_LENGTH_BYTES + headerBytes;
  for (const n of message.blobs ?? []) {
    if (!Number.isInteger(n) || n < 0 || at + n > frame.byteLength) throw new Error('ZooKeeper frame blob overruns it');
    blobs.push(frame.slice(at, at + n));
    at += n;
  }
  return { message, blobs };
}
