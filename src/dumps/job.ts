// One unit of parsing work, the same in a worker thread and in the main thread: parse a small
// file read whole, or one part of a larger input, and encode the result for the wire.
import { closeSync, openSync, readSync } from 'node:fs';
import { UnsharedStrings, type FrameTable } from './frames.js';
import type { DumpFormat } from './model.js';
import { MAX_DUMP_INPUT_BYTES, parsePart, type InputShape, type PartSeam } from './parse.js';
import { WireEncoder, type WireResult } from './wire.js';

export interface ParseJob {
  id: number;
  /** A file read whole by whoever runs the job (bounded by MAX_DUMP_INPUT_BYTES)… */
  path?: string;
  /** …or the bytes of one part of an input. */
  bytes?: Uint8Array;
  /** How the input the part belongs to is read (decided from its head). */
  shape?: InputShape;
  keepUnparsed: boolean;
  maxUnparsedListed: number;
  format?: DumpFormat;
  /** Send each dump's thread count and states, not its threads. */
  summary?: boolean;
  /** Buffers of earlier results, decoded and handed back to hold the next ones (JobRunner.spare). */
  spares?: ArrayBuffer[];
}

export interface ParseJobDone {
  id: number;
  wire: WireResult;
  seam: PartSeam;
  /** The part's bytes, handed back for reuse once parsed. */
  input?: ArrayBuffer;
}

export interface ParseJobFailed {
  id: number;
  error: string;
}

export type ParseJobReply = ParseJobDone | ParseJobFailed;

/**
 * Result buffers kept for reuse, at most. A fresh buffer costs page faults on first touch (more
 * than encoding into it); a result's buffer comes back once the receiver has decoded it.
 */
export const MAX_SPARE_BUFFERS = 64;
/** Result buffers are made at least this large (and in powers of two), so that spares fit the next results. */
const MIN_RESULT_BUFFER_BYTES = 16 * 1024;

/** Read buffers above this size are not kept for the next job. */
const MAX_KEPT_READ_BUFFER_BYTES = 16 * 1024 * 1024;

/** What one runner (a worker thread, or the main thread) keeps between jobs. */
export class JobRunner {
  private readBuffer = Buffer.allocUnsafeSlow(1024 * 1024);
  private readonly encoder = new WireEncoder();
  private readonly spares: ArrayBuffer[] = [];
  private readonly takeBuffer = (bytes: number): ArrayBuffer => {
    for (let i = 0; i < this.spares.length; i++) {
      const b = this.spares[i]!;
      if (b.byteLength >= bytes) {
        this.spares.splice(i, 1);
        return b;
      }
    }
    let size = MIN_RESULT_BUFFER_BYTES;
    while (size < bytes) size *= 2;
    return new ArrayBuffer(size);
  };
  /** The result is encoded at once, and the encoder keeps the strings (UnsharedStrings). */
  private readonly strings = new UnsharedStrings();

  constructor(private readonly frames: FrameTable) {}

  /** A result's buffer, decoded and free again: the next results may go into it. */
  spare(buffer: ArrayBuffer): void {
    if (this.spares.length < MAX_SPARE_BUFFERS && buffer.byteLength > 0) this.spares.push(buffer);
  }

  run(job: ParseJob): ParseJobReply {
    for (const b of job.spares ?? []) this.spare(b);
    try {
      const bytes = job.path !== undefined ? this.read(job.path) : job.bytes!;
      const part = parsePart(
        bytes,
        {
          keepUnparsed: job.keepUnparsed,
          maxUnparsedListed: job.maxUnparsedListed,
          frames: this.frames,
          strings: this.strings,
          ...(job.format !== undefined ? { format: job.format } : {}),
        },
        job.shape,
      );
      if (this.readBuffer.byteLength > MAX_KEPT_READ_BUFFER_BYTES)
        this.readBuffer = Buffer.allocUnsafeSlow(1024 * 1024);
      return {
        id: job.id,
        wire: this.encoder.encode(part.result, job.summary === true, this.takeBuffer),
        seam: part.seam,
      };
    } catch (err) {
      return { id: job.id, error: (err as Error).message };
    }
  }

  /** The whole file into the reused buffer: one allocation for many small files. */
  private read(path: string): Buffer {
    const fd = openSync(path, 'r');
    try {
      let n = 0;
      for (;;) {
        if (n === this.readBuffer.byteLength) {
          if (n > MAX_DUMP_INPUT_BYTES) throw new Error(`over the ${MAX_DUMP_INPUT_BYTES}-byte limit`);
          const bigger = Buffer.allocUnsafeSlow(Math.min(n * 2, MAX_DUMP_INPUT_BYTES + 1));
          this.readBuffer.copy(bigger, 0, 0, n);
          this.readBuffer = bigger;
        }
        const k = readSync(fd, this.readBuffer, n, this.readBuffer.byteLength - n, null);
        if (k === 0) break;
        n += k;
      }
      return this.readBuffer.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }
}
