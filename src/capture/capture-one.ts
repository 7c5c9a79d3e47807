// One target's capture at one instant — arm, register with the instant's batch, fire, stream the
// answer into a sink under size and time limits, and fill in its record. Shared by Capturer rounds
// and by the agent, which takes each requested dump the same way.
import type { Readable } from 'node:stream';
import type { CaptureRecord } from '../dumps/bundle.js';
import type { ThreadCpuSample } from '../dumps/thread-cpu.js';
import { delay, epochNowMs, roundUs } from './clock.js';
import { ArmError, type Armed, type TargetRunner } from './runners.js';
import type { InstantBatches } from './scheduler.js';
import type { CaptureSink } from './sink.js';
import type { ArmedSource, SourceOutcome } from './sources/types.js';

/** How long a killed capture may take to report its end before it is given up on. */
const KILL_GRACE_MS = 2000;

export interface CaptureEnv {
  batches: InstantBatches;
  /** Cuts the capture off (recorded as cancelled). */
  signal: AbortSignal;
  timeoutMs: number;
  maxBytes: number;
}

/** What a capture left besides its record: the bytes (memory sinks) and the CPU sample. */
export interface CaptureOutput {
  data?: Buffer;
  cpu?: ThreadCpuSample;
}

/** Captures runner's target at atMs into sink; fills rec in. Never rejects. */
export async function captureOne(
  runner: TargetRunner,
  rec: CaptureRecord,
  atMs: number,
  sink: CaptureSink,
  env: CaptureEnv,
): Promise<CaptureOutput> {
  runner.busy = true;
  const out: CaptureOutput = {};
  try {
    let armed: Armed;
    try {
      armed = runner.arm(atMs);
    } catch (err) {
      rec.error = (err as Error).message;
      if (err instanceof ArmError) rec.method = err.method;
      return out;
    }
    const source = armed.source;
    rec.method = source.method;
    if (armed.pid !== undefined) rec.pid = armed.pid;
    const fire = (): void => {
      rec.startedAt = epochNowMs();
      source.fire();
    };
    // Per-thread CPU is read right before the instant, beside the dump (see scheduler.ts).
    const sampler = armed.cpu;
    const before = sampler && { costMs: sampler.estimateMs(), run: () => (out.cpu = sampler.sample()) };
    if (!(await env.batches.at(atMs, fire, before))) {
      source.kill();
      await source.done;
      return out;
    }
    const outcome = await drain(source, runner, rec, sink, env, out);
    // An agent releases the capture itself, at the instant on its clock.
    const released = source.method === 'agent' ? (source.requestedAtMs ?? rec.startedAt!) : rec.startedAt!;
    rec.startedAt = roundUs(released);
    if (source.requestedAtMs !== undefined) rec.requestedAtMs = roundUs(source.requestedAtMs);
    if (source.firstByteAtMs !== undefined) rec.firstByteAtMs = roundUs(source.firstByteAtMs);
    Object.assign(rec, outcome.record ?? {});
    out.cpu ??= outcome.cpu;
    const kept = rec.file !== undefined || out.data !== undefined;
    if (!kept) delete out.cpu;
    else if (out.cpu !== undefined) {
      try {
        const file = await sink.putCpu(runner.target, rec.round, out.cpu);
        if (file !== undefined) rec.cpuFile = file;
      } catch (err) {
        rec.cpuError = (err as Error).message;
      }
    } else if (sampler !== undefined) rec.cpuError = 'the process was gone when its threads were read';
    return out;
  } finally {
    runner.busy = false;
  }
}

/** Streams a source into the sink under the limits; keeps the output only when it succeeded. */
async function drain(
  source: ArmedSource,
  runner: TargetRunner,
  rec: CaptureRecord,
  sink: CaptureSink,
  env: CaptureEnv,
  out: CaptureOutput,
): Promise<SourceOutcome> {
  let bytes = 0;
  let limitError: string | undefined;
  let onKilled!: () => void;
  const killed = new Promise<void>((r) => (onKilled = r));
  const stop = (why: string): void => {
    limitError ??= why;
    source.kill();
    onKilled();
  };
  const timer = setTimeout(() => stop(`timed out after ${env.timeoutMs} ms`), env.timeoutMs);
  const onAbort = (): void => stop('capture cancelled');
  env.signal.addEventListener('abort', onAbort, { once: true });
  if (env.signal.aborted) onAbort();
  let output: ReturnType<CaptureSink['open']> | undefined;
  try {
    let stream: Readable | undefined;
    try {
      stream = await source.stream;
    } catch {
      stream = undefined;
    }
    if (stream !== undefined && limitError === undefined) {
      const s = stream;
      const o = (output = sink.open(runner.target, rec.round));
      await new Promise<void>((resolveStream) => {
        const finish = (): void => resolveStream();
        s.on('data', (chunk: Buffer) => {
          if (limitError !== undefined) return;
          const room = env.maxBytes - bytes;
          if (chunk.length > room) {
            bytes += Math.max(0, room);
            stop(`capture larger than ${env.maxBytes} bytes; cut off`);
            return finish();
          }
          bytes += chunk.length;
          if (!o.stream.write(chunk)) {
            s.pause();
            o.stream.once('drain', () => s.resume());
          }
        });
        s.on('end', finish);
        s.on('close', finish);
        s.on('error', finish);
      });
    }
    // A killed source reports its end too; the grace period only guards against one that never does.
    const outcome = await Promise.race([source.done, killed.then(() => delay<SourceOutcome>(KILL_GRACE_MS, {}))]);
    // The capture is over when its last byte came, not when the file is in place.
    rec.finishedAt = roundUs(epochNowMs());
    const error = limitError ?? outcome.error;
    if (outcome.status !== undefined) rec.status = outcome.status;
    if (error !== undefined) rec.error = error;
    if (output !== undefined) {
      if (error === undefined) {
        try {
          const kept = await output.keep();
          rec.bytes = bytes;
          if (kept.file !== undefined) rec.file = kept.file;
          if (kept.data !== undefined) out.data = kept.data;
        } catch (err) {
          rec.error = (err as Error).message;
        }
      } else {
        // A failed capture leaves no partial dump behind; its error says what went wrong.
        await output.drop();
        if (bytes > 0) rec.bytes = bytes;
      }
    }
    return outcome;
  } finally {
    clearTimeout(timer);
    env.signal.removeEventListener('abort', onAbort);
  }
}
