// The flight recorder: when an alert fires, the window that proved it is written as an ordinary
// capture bundle (manifest.json, <node>/<round>.txt and .cpu.json, byte for byte as captured) plus
// event.json, so `rollcall analyze` on the bundle says what the watch said; then index.html, the
// HTML report of that same analysis, to attach to the incident. The evidence is written under a
// hidden name and renamed when complete, so whoever lists --out never sees half of it, and the alert
// is announced at once; the report (a few hundred ms of layout) follows, also written whole. Only
// the newest `keep` bundles are kept; the recorder removes only folders named as it names them.
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BUNDLE_VERSION,
  captureFileName,
  cpuFileName,
  writeManifest,
  type BundleManifest,
  type BundleTarget,
  type CaptureRecord,
} from '../dumps/bundle.js';
import type { AnalysisResult } from '../diagnose/result.js';
import { renderHtmlReport } from '../report/html/index.js';
import { assert } from '../util/assert.js';
import type { WatchRound } from './window.js';

export const MAX_KEEP = 10_000;
/** `20250102T030405.678Z-deadlock`, with `-2`, `-3` … when two alerts share a millisecond. */
const BUNDLE_NAME = /^\d{8}T\d{6}\.\d{3}Z-(?:deadlock|stuck)(?:-\d+)?$/;
const PARTIAL_PREFIX = '.partial-';

export interface RecordRequest {
  /** When the alert fired (epoch ms). */
  atMs: number;
  verdict: 'deadlock' | 'stuck';
  targets: readonly BundleTarget[];
  intervalMs: number;
  timeoutMs: number;
  maxBytes: number;
  rounds: readonly WatchRound[];
  /** Written as event.json. */
  event: object;
}

export class FlightRecorder {
  constructor(
    readonly dir: string,
    readonly keep: number,
  ) {
    assert(Number.isInteger(keep) && keep >= 1 && keep <= MAX_KEEP, `keep must be 1 to ${MAX_KEEP}`);
  }

  /** Creates the directory and removes half-written bundles a killed watch left behind. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const e of await readdir(this.dir)) {
      if (e.startsWith(PARTIAL_PREFIX) && BUNDLE_NAME.test(e.slice(PARTIAL_PREFIX.length))) {
        await rm(join(this.dir, e), { recursive: true, force: true });
      }
    }
  }

  /** Writes the window's rounds as a bundle; returns its path. */
  async record(req: RecordRequest): Promise<string> {
    const name = await this.freshName(req.atMs, req.verdict);
    const partial = join(this.dir, PARTIAL_PREFIX + name);
    const final = join(this.dir, name);
    try {
      await mkdir(partial);
      await this.writeBundle(partial, req);
      await rename(partial, final);
    } catch (err) {
      await rm(partial, { recursive: true, force: true });
      throw err;
    }
    await this.prune();
    return final;
  }

  private async writeBundle(dir: string, req: RecordRequest): Promise<void> {
    for (const t of req.targets) await mkdir(join(dir, t.dir), { recursive: true });
    const dirOf = new Map(req.targets.map((t) => [t.name, t.dir]));
    const manifest: BundleManifest = {
      version: BUNDLE_VERSION,
      createdAt: Math.round(req.rounds[0]?.info.scheduledAt ?? req.atMs),
      intervalMs: req.intervalMs,
      count: req.rounds.length,
      timeoutMs: req.timeoutMs,
      maxBytes: req.maxBytes,
      targets: req.targets.map((t) => ({ ...t })),
      rounds: [],
      captures: [],
      completedAt: Math.round(req.atMs),
    };
    // Rounds are numbered from 0 in the bundle, as a capture of these rounds would number them.
    for (const [i, r] of req.rounds.entries()) {
      manifest.rounds.push({ ...r.info, round: i });
      for (const rec of r.records) {
        const out: CaptureRecord = { ...rec, round: i };
        delete out.file;
        delete out.cpuFile;
        const folder = dirOf.get(rec.node);
        const bytes = r.raw.get(rec.node);
        if (folder !== undefined && bytes !== undefined) {
          out.file = `${folder}/${captureFileName(i)}`;
          await writeFile(join(dir, out.file), bytes);
          const cpu = r.cpu.get(rec.node);
          if (cpu !== undefined) {
            out.cpuFile = `${folder}/${cpuFileName(i)}`;
            await writeFile(join(dir, out.cpuFile), JSON.stringify(cpu) + '\n');
          }
        }
        manifest.captures.push(out);
      }
    }
    await writeManifest(dir, manifest);
    await writeFile(join(dir, 'event.json'), JSON.stringify(req.event, null, 2) + '\n');
  }

  /**
   * Adds index.html to a recorded bundle: the report of the window's analysis, which must have
   * been made with detail (the report draws the graph and every stack).
   */
  async report(bundle: string, result: AnalysisResult, title: string, footer: string): Promise<void> {
    const html = renderHtmlReport(result, { title, footer });
    const tmp = join(bundle, '.index.html.tmp');
    await writeFile(tmp, html);
    await rename(tmp, join(bundle, 'index.html'));
  }

  private async freshName(atMs: number, verdict: string): Promise<string> {
    const stamp = new Date(atMs).toISOString().replace(/[-:]/g, '');
    const taken = new Set(await readdir(this.dir));
    let name = `${stamp}-${verdict}`;
    for (let i = 2; taken.has(name) || taken.has(PARTIAL_PREFIX + name); i++) name = `${stamp}-${verdict}-${i}`;
    return name;
  }

  /** Removes the oldest bundles beyond `keep` (names sort by time). */
  private async prune(): Promise<void> {
    const bundles = (await readdir(this.dir)).filter((e) => BUNDLE_NAME.test(e)).sort();
    for (const old of bundles.slice(0, Math.max(0, bundles.length - this.keep))) {
      await rm(join(this.dir, old), { recursive: true, force: true });
    }
  }
}
