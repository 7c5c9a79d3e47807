// What the znodes hold, as JSON with a format tag, validated on read: a znode written by another
// version or by hand must produce a clear error, not a crash deep inside the barrier.
import { isForeignExceptionWire, type ForeignExceptionWire } from '../../barrier/errors.js';
import { isProcedureRef, type ProcedureRef } from '../../barrier/transport.js';

/** The procedure state kept in acquired/<instance>. */
export interface ProcedureState {
  format: 'rollcall-zk-procedure/1';
  ref: ProcedureRef;
  /** The node that started the run (a standby that resumes it keeps this as history). */
  coordinator: string;
  members: string[];
  args: unknown;
  /** Wall-clock epoch ms: a standby on another machine resumes with the time that is left. */
  startedWallMs: number;
  timeoutMs: number;
}

/** The live-member registration in members/<member>. */
export interface MemberRegistration {
  format: 'rollcall-zk-member/1';
  member: string;
  pid: number;
  startedWallMs: number;
}

/** A candidate's znode in the election and the leader's masters/active. */
export interface MasterInfo {
  format: 'rollcall-zk-master/1';
  name: string;
  /** The master's RPC address (HOST:PORT), for workers' and clients' calls; '' if it has none. */
  rpcAddress: string;
  adminAddress: string;
  pid: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value ?? null));
}

export function decodeJson(path: string, data: Uint8Array): unknown {
  const text = decoder.decode(data);
  if (text.length === 0) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`znode ${path} does not hold JSON (${text.length} bytes starting '${text.slice(0, 40)}')`);
  }
}

export function decodeProcedureState(path: string, data: Uint8Array): ProcedureState {
  const v = decodeJson(path, data);
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (
    o.format !== 'rollcall-zk-procedure/1' ||
    !isProcedureRef(o.ref) ||
    typeof o.coordinator !== 'string' ||
    !Array.isArray(o.members) ||
    !o.members.every((m) => typeof m === 'string') ||
    typeof o.startedWallMs !== 'number' ||
    typeof o.timeoutMs !== 'number'
  ) {
    throw new Error(`znode ${path} does not hold a rollcall procedure state (format rollcall-zk-procedure/1)`);
  }
  return o as unknown as ProcedureState;
}

export function decodeError(path: string, data: Uint8Array): ForeignExceptionWire {
  const v = decodeJson(path, data);
  if (isForeignExceptionWire(v)) return v;
  // HBase writes a protobuf here; anything unreadable still aborts, naming the znode.
  return { source: 'unknown', message: `unreadable abort znode ${path}`, timeout: false };
}

export function decodeMasterInfo(path: string, data: Uint8Array): MasterInfo | null {
  try {
    const v = decodeJson(path, data) as Record<string, unknown> | null;
    if (v && v.format === 'rollcall-zk-master/1' && typeof v.name === 'string') return v as unknown as MasterInfo;
  } catch {
    // Fall through: an unreadable candidate is reported as unknown, not fatal.
  }
  return null;
}
