// How many parsing threads an input gets, and starting them early. A worker thread takes about
// 80 ms to boot and load the parser; the CLI spends about as long loading the analysis before it
// knows its sources. A command that will parse a large input starts its workers first (from a
// quick, bounded look at the input's size) and the pool adopts them, so the two overlap. This
// module loads nothing heavy: it is imported before the parser and the analysis are.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export const MAX_PARSE_WORKERS = 16;
/** Inputs smaller than this in all are parsed in the calling thread: starting workers would cost more. */
export const IN_THREAD_MAX_BYTES = 8 * 1024 * 1024;
/** Directory entries the early size estimate looks at, at most (it stops sooner once the input is large). */
const MAX_ESTIMATE_ENTRIES = 10_000;

/**
 * The compiled worker script next to this module, if there is one (not when tests run the
 * TypeScript sources): the build's single-file bundle of it first. A worker thread loads its
 * modules from cold, and the ten of the parser cost it ~30 ms more than one file before it can
 * take its first job.
 */
export function workerScript(): URL | undefined {
  for (const name of ['./parse-worker.bundle.js', './parse-worker.js']) {
    const url = new URL(name, import.meta.url);
    if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

/**
 * Workers for the cores: all of them when the main thread only collects results, one fewer when
 * it has its own share of the work (it decodes every thread and analyzes as results arrive):
 * a third busy thread on two cores slows the other two more than it adds.
 */
export function defaultParseWorkers(mainThreadBusy: boolean): number {
  const cores = availableParallelism();
  return Math.max(1, Math.min(MAX_PARSE_WORKERS, mainThreadBusy ? cores - 1 : cores));
}

/**
 * Parsing threads for inputs of this size (undefined: unknown, such as a pipe): ROLLCALL_PARSE_WORKERS
 * when set; else, for large inputs or ones of unknown size, the cores (less the main thread's when
 * it is busy: defaultParseWorkers); none for small ones.
 */
export function parseWorkersFor(bytes: number | undefined, mainThreadBusy: boolean): number {
  const forced = process.env['ROLLCALL_PARSE_WORKERS'];
  if (forced !== undefined && forced !== '') {
    const n = Number(forced);
    if (Number.isInteger(n) && n >= 0 && n <= MAX_PARSE_WORKERS) return n;
  }
  return bytes === undefined || bytes >= IN_THREAD_MAX_BYTES ? defaultParseWorkers(mainThreadBusy) : 0;
}

/**
 * The size of these inputs (files, or directories walked), counted only up to `atLeast`: the
 * walk stops once that much is found. Undefined when an input has no size (a pipe, a device).
 * Unreadable entries count as nothing; they are reported when the input is read for real.
 */
export function estimateInputBytes(paths: readonly (string | undefined)[], atLeast: number): number | undefined {
  let bytes = 0;
  let entries = 0;
  const pending = paths.filter((p): p is string => p !== undefined);
  while (pending.length > 0 && bytes < atLeast && entries < MAX_ESTIMATE_ENTRIES) {
    const path = pending.pop()!;
    entries++;
    try {
      const st = statSync(path);
      if (st.isFile()) bytes += st.size;
      else if (st.isDirectory()) {
        for (const name of readdirSync(path)) {
          if (pending.length + entries >= MAX_ESTIMATE_ENTRIES) break;
          pending.push(join(path, name));
        }
      } else return undefined;
    } catch {
      // Reported when the input is read.
    }
  }
  return bytes;
}

/** A worker started ahead of its pool, and what happened to it before the pool took it. */
export interface StartedWorker {
  worker: Worker;
  /** It failed (to load, say) or exited before a pool listened. */
  failed?: Error;
}

/** Workers started ahead of their pool, unref'd: an early exit does not wait for them. */
const started: StartedWorker[] = [];

/**
 * Starts the parsing threads a pool will want for these inputs, before the caller loads the
 * parser and the analysis. Returns how many were started (the pool takes them: takeStartedWorker).
 */
function startParseWorkersFor(inputs: readonly string[], mainThreadBusy: boolean): number {
  const script = workerScript();
  if (script === undefined) return 0;
  const n = parseWorkersFor(estimateInputBytes(inputs, IN_THREAD_MAX_BYTES), mainThreadBusy) - started.length;
  for (let i = 0; i < n; i++) {
    const entry: StartedWorker = { worker: new Worker(script) };
    // Until a pool listens, a failure is kept for it (an 'error' with no listener would throw).
    entry.worker.once('error', (err: Error) => (entry.failed ??= err));
    entry.worker.once('exit', (code) => (entry.failed ??= new Error(`parse worker exited with code ${code}`)));
    entry.worker.unref();
    started.push(entry);
  }
  return Math.max(0, n);
}

/**
 * From the command line alone, before the CLI loads: `rollcall analyze …` and `rollcall parse …`
 * start their parsing threads here, so that they boot while the commands load. A guess at the
 * inputs (every argument that is not a flag, and the FILE of --node NAME=FILE): a wrong one costs
 * a spare worker, which the command stops when it ends, or a start not made early.
 */
export function startParseWorkersForArgs(args: readonly string[]): void {
  const command = args.find((a) => !a.startsWith('-'));
  if (command !== 'analyze' && command !== 'parse') return;
  if (args.includes('--help') || args.includes('-h')) return;
  const inputs: string[] = [];
  for (const a of args.slice(args.indexOf(command) + 1)) {
    if (!a.startsWith('-')) inputs.push(a.includes('=') ? a.slice(a.indexOf('=') + 1) : a);
  }
  // `parse` without --json or --threads sends summaries: its main thread has little to do.
  const mainThreadBusy = command === 'analyze' || args.includes('--json') || args.includes('--threads');
  startParseWorkersFor(inputs, mainThreadBusy);
}

/** A worker started early for this script, if one is waiting; the caller owns it from now on. */
export function takeStartedWorker(script: URL): StartedWorker | undefined {
  return script.href === workerScript()?.href ? started.shift() : undefined;
}

/** Ends the early workers no pool took (the input turned out small, or the command failed first). */
export async function stopStartedWorkers(): Promise<void> {
  const left = started.splice(0);
  await Promise.all(left.map((w) => w.worker.terminate()));
}
