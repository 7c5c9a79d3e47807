// What every capture source looks like to the round: armed ahead of its instant (connection open,
// process started and held at a gate), released by fire() with as little work as possible, then
// streaming its dump. Sources time-stamp their own request and first byte, where they happen.
import type { Readable } from 'node:stream';
import type { CaptureMethod, CaptureRecord } from '../../dumps/bundle.js';
import type { ThreadCpuSample } from '../../dumps/thread-cpu.js';

export interface SourceOutcome {
  error?: string;
  /** Exit code, HTTP status, or attach status. */
  status?: number;
  /** A CPU sample that came with the dump (agents). */
  cpu?: ThreadCpuSample;
  /** Facts only the source knows (an agent's clock offset, its own method). */
  record?: Partial<CaptureRecord>;
}

export interface ArmedSource {
  readonly method: CaptureMethod;
  /** Releases the capture now: one write, or opening a gate. */
  fire(): void;
  /** The dump's bytes, once available; rejects when the source fails before any. */
  readonly stream: Promise<Readable>;
  /** Settles once the source is finished; never rejects. */
  readonly done: Promise<SourceOutcome>;
  /** Epoch ms when the request went out (set by fire, or by the remote side for agents). */
  readonly requestedAtMs: number | undefined;
  /** Epoch ms when the first byte of the answer arrived. */
  readonly firstByteAtMs: number | undefined;
  /** Stops the capture (timeout, size limit, cancel). */
  kill(): void;
}
