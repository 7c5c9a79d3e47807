// A pool of parsing worker threads, one per core by default. Jobs go to the worker with the
// fewest outstanding; each worker's results are received in the order it sent them (its string and
// frame tables grow in that order). Without the compiled worker script (tests running the
// TypeScript sources) or with `workers: 0`, jobs run in this thread through the same encoding.
import { Worker } from 'node:worker_threads';
import type { FrameTable } from './frames.js';
import { JobRunner, MAX_SPARE_BUFFERS, type ParseJob, type ParseJobReply } from './job.js';
import type { PartSeam } from './parse.js';
import { WireDecoder, type ReceivedResult } from './wire.js';
import { MAX_PARSE_WORKERS, takeStartedWorker, workerScript } from './worker-start.js';

export interface PartReceived {
  received: ReceivedResult;
  seam: PartSeam;
  /** The part's bytes, free to be filled again. */
  input?: ArrayBuffer;
  /** Call once the result is decoded: its buffer goes back to the worker for the next results. */
  release: () => void;
}

interface Waiting {
  resolve: (r: PartReceived) => void;
  reject: (e: Error) => void;
  slot: WorkerSlot;
}

interface WorkerSlot {
  worker: Worker;
  decoder: WireDecoder;
  outstanding: number;
  failed?: Error;
  /** Decoded results' buffers, to go back with the next job (as many as the worker keeps). */
  spares: ArrayBuffer[];
  /** Jobs posted to the worker and not answered yet, and jobs waiting to be posted. */
  posted: number;
  queued: ParseJob[];
}

/**
 * Jobs posted to one worker ahead of its results, at most; the rest wait here. A few keep the
 * worker busy through a pause of this thread; more would only sit in its queue, and a job
 * posted later takes the buffers of the results decoded meanwhile back with it.
 */
const MAX_POSTED_PER_WORKER = 64;

export class ParsePool {
  private readonly slots: WorkerSlot[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private local: { runner: JobRunner; decoder: WireDecoder } | undefined;
  private nextId = 0;
  private closed = false;

  /** `workers` threads (0: parse in this thread); frames are interned into `frames` here. */
  constructor(
    workers: number,
    private readonly frames: FrameTable,
  ) {
    const script = workers > 0 ? workerScript() : undefined;
    if (script === undefined) return;
    for (let i = 0; i < Math.min(workers, MAX_PARSE_WORKERS); i++) {
      // One started early for this input (worker-start.ts) is already booting: take it first.
      const early = takeStartedWorker(script);
      const worker = early?.worker ?? new Worker(script);
      const slot: WorkerSlot = {
        worker,
        decoder: new WireDecoder(frames),
        outstanding: 0,
        spares: [],
        posted: 0,
        queued: [],
      };
      worker.on('message', (reply: ParseJobReply) => this.settle(slot, reply));
      worker.on('error', (err: Error) => this.fail(slot, err));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(slot, new Error(`parse worker exited with code ${code}`));
      });
      worker.unref();
      this.slots.push(slot);
      if (early?.failed !== undefined) this.fail(slot, early.failed);
    }
  }

  /** Worker threads in use (0 when jobs run in this thread). */
  get threads(): number {
    return this.slots.length;
  }

  run(job: Omit<ParseJob, 'id'>): Promise<PartReceived> {
    if (this.closed) return Promise.reject(new Error('parse pool closed'));
    const id = this.nextId++;
    const live = this.slots.filter((s) => s.failed === undefined);
    if (live.length === 0) {
      if (this.slots.length > 0) return Promise.reject(this.slots[0]!.failed!);
      this.local ??= {
        runner: new JobRunner(this.frames),
        decoder: new WireDecoder(this.frames),
      };
      const local = this.local;
      const reply = local.runner.run({ ...job, id });
      if ('error' in reply) return Promise.reject(new Error(reply.error));
      const buffer = reply.wire.nums.buffer as ArrayBuffer;
      return Promise.resolve({
        received: local.decoder.receive(reply.wire),
        seam: reply.seam,
        release: () => local.runner.spare(buffer),
        ...(job.bytes !== undefined ? { input: job.bytes.buffer as ArrayBuffer } : {}),
      });
    }
    let slot = live[0]!;
    for (const s of live) if (s.outstanding < slot.outstanding) slot = s;
    if (slot.outstanding++ === 0) slot.worker.ref();
    return new Promise<PartReceived>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, slot });
      if (slot.posted < MAX_POSTED_PER_WORKER) this.post(slot, { ...job, id });
      else slot.queued.push({ ...job, id });
    });
  }

  private post(slot: WorkerSlot, job: ParseJob): void {
    slot.posted++;
    const transfer = job.bytes !== undefined ? [job.bytes.buffer as ArrayBuffer] : [];
    const spares = slot.spares.splice(0);
    for (const b of spares) transfer.push(b);
    slot.worker.postMessage(spares.length > 0 ? { ...job, spares } : job, transfer);
  }

  private settle(slot: WorkerSlot, reply: ParseJobReply): void {
    slot.posted--;
    const next = slot.queued.shift();
    if (next !== undefined && slot.failed === undefined && !this.closed) this.post(slot, next);
    const w = this.waiting.get(reply.id);
    if (w === undefined) return;
    this.waiting.delete(reply.id);
    if (--slot.outstanding === 0) slot.worker.unref();
    if ('error' in reply) w.reject(new Error(reply.error));
    else {
      const buffer = reply.wire.nums.buffer as ArrayBuffer;
      w.resolve({
        received: slot.decoder.receive(reply.wire),
        seam: reply.seam,
        release: () => {
          if (slot.spares.length < MAX_SPARE_BUFFERS && slot.failed === undefined) slot.spares.push(buffer);
        },
        ...(reply.input !== undefined ? { input: reply.input } : {}),
      });
    }
  }

  private fail(slot: WorkerSlot, err: Error): void {
    if (slot.failed !== undefined) return;
    slot.failed = err;
    slot.worker.unref();
    slot.queued.length = 0;
    for (const [id, w] of this.waiting) {
      if (w.slot !== slot) continue;
      this.waiting.delete(id);
      w.reject(new Error(`parse worker failed: ${err.message}`));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) slot.queued.length = 0;
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id);
      w.reject(new Error('parse pool closed'));
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
