// `rollcall capture` as a function: every target every interval for count rounds into a bundle
// directory, through the same Capturer rounds `rollcall watch` uses. Round k is at t0 + k·interval
// (never drifting with how long captures take); the manifest is rewritten atomically as rounds
// finish, so an interrupted capture still leaves a readable bundle.
import { setMaxListeners } from 'node:events';
import {
  BUNDLE_VERSION,
  prepareBundleDir,
  writeManifest,
  type BundleManifest,
  type CaptureRecord,
} from '../dumps/bundle.js';
import { MAX_ROUNDS } from '../dumps/limits.js';
import { epochNowMs, sleepUntil } from './clock.js';
import {
  Capturer,
  DEFAULT_CAPTURE_TIMEOUT_MS,
  MAX_CAPTURE_BYTES,
  PREPARE_LEAD_MS,
  targetsProblem,
  bundleTargets,
  type CapturerOptions,
  type RoundResult,
} from './round.js';
import { roundInstantMs } from './scheduler.js';
import { DirectorySink } from './sink.js';
import type { TargetSpec } from './targets.js';

export { MAX_ROUNDS };
/** Bound on rounds × targets: every capture has a record in the manifest. */
export const MAX_CAPTURES = 500_000;
/** The manifest is rewritten after a round at most this often (and always at the end). */
const MANIFEST_WRITE_INTERVAL_MS = 5000;
/** Round 0 is scheduled this far ahead, so it is prepared like every other round. */
const FIRST_ROUND_LEAD_MS = PREPARE_LEAD_MS + 20;

export interface CaptureOptions extends Omit<CapturerOptions, 'signal'> {
  targets: TargetSpec[];
  intervalMs: number;
  count: number;
  outDir: string;
  /** Overwrite an existing non-empty bundle directory (removes only what this bundle writes). */
  force?: boolean;
  /** Epoch ms of round 0; default: now (after the targets are ready) plus a short lead. */
  startAtMs?: number;
  /** Called as each capture finishes (for progress bars). */
  onCapture?: (record: CaptureRecord, manifest: BundleManifest) => void;
  /** Stops scheduling further rounds; running captures are cut off and recorded. */
  signal?: AbortSignal;
}

/** Checks targets and options; returns a readable problem or undefined. */
export function validateCapture(opts: Pick<CaptureOptions, 'targets' | 'count' | 'intervalMs'>): string | undefined {
  const problem = targetsProblem(opts.targets);
  if (problem !== undefined) return problem;
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > MAX_ROUNDS) {
    return `count must be 1 to ${MAX_ROUNDS} (the most rounds analyze reads)`;
  }
  if (!(opts.intervalMs >= 0)) return 'interval must be 0 or more';
  if (opts.count * opts.targets.length > MAX_CAPTURES) {
    return `at most ${MAX_CAPTURES} captures (rounds × targets), not ${opts.count * opts.targets.length}`;
  }
  return undefined;
}

/**
 * Captures every target every interval for count rounds into a bundle directory, and returns the
 * manifest (also written to DIR/manifest.json as rounds finish). Throws only on bad options or
 * when the directory cannot be prepared (BundleExistsError when it is not empty and !force).
 */
export async function captureBundle(opts: CaptureOptions): Promise<BundleManifest> {
  const problem = validateCapture(opts);
  if (problem !== undefined) throw new Error(problem);
  await prepareBundleDir(opts.outDir, bundleTargets(opts.targets), opts.force ?? false);
  const cancel = new AbortController();
  setMaxListeners(opts.targets.length * 4 + 10, cancel.signal);
  const onAbort = (): void => cancel.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const capturer = new Capturer(opts.targets, { ...opts, signal: cancel.signal });
  const manifest: BundleManifest = {
    version: BUNDLE_VERSION,
    createdAt: Math.round(epochNowMs()),
    intervalMs: opts.intervalMs,
    count: opts.count,
    timeoutMs: opts.timeoutMs ?? DEFAULT_CAPTURE_TIMEOUT_MS,
    maxBytes: opts.maxBytes ?? MAX_CAPTURE_BYTES,
    targets: capturer.targets,
    rounds: [],
    captures: [],
  };
  // Manifest writes are serialized so a slow one never lands after a newer one, and throttled so
  // a long capture does not rewrite a large manifest every round.
  let writing: Promise<void> = Promise.resolve();
  let lastWriteMs = epochNowMs();
  const persist = (force: boolean): Promise<void> => {
    if (!force && epochNowMs() - lastWriteMs < MANIFEST_WRITE_INTERVAL_MS) return writing;
    lastWriteMs = epochNowMs();
    return (writing = writing.then(() => writeManifest(opts.outDir, manifest)));
  };
  const sink = new DirectorySink(opts.outDir);
  const rounds: Promise<RoundResult>[] = [];
  try {
    await persist(true);
    // Attach listeners are started before t0 is chosen: round 0 then costs what every round costs.
    await capturer.open();
    const t0 = opts.startAtMs ?? Math.ceil(epochNowMs()) + FIRST_ROUND_LEAD_MS;
    for (let round = 0; round < opts.count; round++) {
      if (cancel.signal.aborted) break;
      const atMs = roundInstantMs(t0, round, opts.intervalMs);
      const leadMs = Math.min(PREPARE_LEAD_MS, opts.intervalMs / 2);
      await sleepUntil(atMs - leadMs, cancel.signal);
      if (cancel.signal.aborted) break;
      const handle = capturer.round(round, atMs, sink, leadMs);
      manifest.captures.push(...handle.records);
      const info = await handle.released;
      manifest.rounds.push(info);
      rounds.push(
        handle.done.then((r) => {
          for (const rec of r.records) opts.onCapture?.(rec, manifest);
          void persist(false);
          return r;
        }),
      );
    }
    await Promise.all(rounds);
    if (!cancel.signal.aborted) manifest.completedAt = Math.round(epochNowMs());
    await persist(true);
    return manifest;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await capturer.close();
    await Promise.allSettled(rounds);
    await writing.catch(() => undefined);
  }
}
