// Where a round's captures go: a bundle directory (`rollcall capture`) or memory (`rollcall watch`,
// which parses each round and keeps a sliding window). A capture is written under a hidden
// temporary name and renamed only when it succeeded, so a failed capture never leaves a partial
// dump that a reader would take for a sample.
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { captureFileName, cpuFileName, partialFileName, type BundleTarget } from '../dumps/bundle.js';
import type { ThreadCpuSample } from '../dumps/thread-cpu.js';

export interface SinkOutput {
  readonly stream: Writable;
  /** After the stream has been ended: keep the output. */
  keep(): Promise<{ file?: string; data?: Buffer }>;
  /** After the stream has been ended: throw the output away. */
  drop(): Promise<void>;
}

export interface CaptureSink {
  /** Where one capture's bytes go. */
  open(target: BundleTarget, round: number): SinkOutput;
  /** Stores a capture's CPU sample; returns its bundle-relative file when it has one. */
  putCpu(target: BundleTarget, round: number, sample: ThreadCpuSample): Promise<string | undefined>;
}

/** Writes `<dir>/<node dir>/<round>.txt` (and `.cpu.json`) into a prepared bundle directory. */
export class DirectorySink implements CaptureSink {
  constructor(readonly dir: string) {}

  open(target: BundleTarget, round: number): SinkOutput {
    const partial = join(this.dir, target.dir, partialFileName(round));
    const rel = `${target.dir}/${captureFileName(round)}`;
    const stream = createWriteStream(partial);
    // A full disk must not crash capture: the error is reported by keep().
    let writeError: Error | undefined;
    stream.on('error', (err) => (writeError ??= err));
    const ended = (): Promise<void> => endStream(stream);
    return {
      stream,
      keep: async () => {
        await ended();
        if (writeError !== undefined) {
          await unlink(partial).catch(() => undefined);
          throw new Error(`cannot write ${rel}: ${writeError.message}`);
        }
        await rename(partial, join(this.dir, rel));
        return { file: rel };
      },
      drop: async () => {
        await ended();
        await unlink(partial).catch(() => undefined);
      },
    };
  }

  async putCpu(target: BundleTarget, round: number, sample: ThreadCpuSample): Promise<string> {
    const rel = `${target.dir}/${cpuFileName(round)}`;
    await writeFile(join(this.dir, rel), JSON.stringify(sample) + '\n');
    return rel;
  }
}

/** Keeps each capture's bytes in memory, bounded by the capture size limit of each source. */
export class MemorySink implements CaptureSink {
  open(): SinkOutput {
    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb): void {
        chunks.push(chunk);
        cb();
      },
    });
    return {
      stream,
      keep: async () => {
        await endStream(stream);
        return { data: Buffer.concat(chunks) };
      },
      drop: async () => {
        await endStream(stream);
        chunks.length = 0;
      },
    };
  }

  async putCpu(): Promise<undefined> {
    return undefined;
  }
}

function endStream(out: Writable | WriteStream): Promise<void> {
  if (out.writableFinished || out.destroyed) return Promise.resolve();
  return new Promise((r) => {
    out.end(() => r());
    out.once('error', () => r());
  });
}
