// A bundle is a plain directory a user can zip and attach to a ticket:
//   DIR/manifest.json            targets, rounds (with skew) and one record per capture
//   DIR/<node>/<round>.txt       the raw bytes each capture returned
//   DIR/<node>/<round>.cpu.json  per-thread CPU of a local JVM at the same instant (thread-cpu.ts)
// This module owns the manifest's shape, its atomic writing, and reading a bundle back.
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

export const BUNDLE_VERSION = 'rollcall-bundle/1';
export const MANIFEST_FILE = 'manifest.json';
/** Longest folder name made from a node name. */
export const MAX_NODE_DIR_CHARS = 100;
/** Bound on the manifest read back (a bundle of 1000 nodes × 1000 rounds is ~200 MB; refuse more). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;
/**
 * Bounds on what a manifest may declare (capture's own limits: MAX_ROUNDS, MAX_TARGETS,
 * MAX_CAPTURES in capture.ts), so a hand-edited manifest cannot ask for unbounded work.
 */
const MAX_MANIFEST_ROUNDS = 100_000;
const MAX_MANIFEST_TARGETS = 1000;
const MAX_MANIFEST_CAPTURES = 500_000;

/** How a target is reached; ssh and kubectl run jcmd on another host or in a pod. */
export type TargetKind = 'url' | 'jvm' | 'cmd' | 'agent' | 'ssh' | 'kubectl';
export const TARGET_KINDS: readonly TargetKind[] = ['url', 'jvm', 'cmd', 'agent', 'ssh', 'kubectl'];

/** How a capture was taken: the HotSpot attach protocol, a JDK tool, HTTP, a command, or an agent. */
export type CaptureMethod = 'attach' | 'jcmd' | 'jstack' | 'http' | 'cmd' | 'agent';
export const CAPTURE_METHODS: readonly CaptureMethod[] = ['attach', 'jcmd', 'jstack', 'http', 'cmd', 'agent'];

export interface BundleTarget {
  name: string;
  kind: TargetKind;
  /**
   * The URL, the pid, or the shell command; for agent targets the JVM's URL on its agent
   * (`http://host:port/jvms/<pid>`); for ssh `HOST:PID`, for kubectl `POD[@NAMESPACE]:PID`.
   */
  spec: string;
  /** host:port for URL targets. */
  addr?: string;
  /** Folder (relative to the bundle) holding this target's captures: the sanitized name. */
  dir: string;
  /** JVM targets found by --jvm-match: the pattern, and the main class seen at discovery. */
  match?: string;
  mainClass?: string;
}

export interface BundleRound {
  round: number;
  /** Epoch ms at which every capture of the round was scheduled to start. */
  scheduledAt: number;
  /** max − min of the round's request instants (requestedAtMs; startedAt in older bundles). */
  skewMs: number;
  /** max − min of the instants the first byte of each answer came back. */
  firstByteSkewMs?: number;
}

export interface CaptureRecord {
  node: string;
  round: number;
  scheduledAt: number;
  /**
   * Epoch ms (fractional, from the capturing process's monotonic clock anchored to the wall clock
   * at its start, so that differences are exact) when the capture was released; absent when skipped.
   */
  startedAt?: number;
  finishedAt?: number;
  /** Path relative to the bundle, `<dir>/<round>.txt`; absent when nothing was written. */
  file?: string;
  bytes?: number;
  /** Why the capture failed (it may still have written partial output to file). */
  error?: string;
  /** Exit code of jcmd/jstack/command, HTTP status, or the attach protocol's status. */
  status?: number;
  /** How the dump was taken. */
  method?: CaptureMethod;
  /**
   * Epoch ms (fractional, same clock as startedAt) when the request reached the process that
   * takes the dump: the attach write, the HTTP request, the opened gate of jcmd; for an agent,
   * the agent's write to the JVM, on this side's clock. Round skew is computed from these.
   */
  requestedAtMs?: number;
  /** Epoch ms when the first byte of the answer came back. */
  firstByteAtMs?: number;
  /** The JVM's pid (local and remote JVM targets). */
  pid?: number;
  /** `<dir>/<round>.cpu.json`: per-thread CPU taken at the same instant as the dump. */
  cpuFile?: string;
  /** Why no CPU sample was taken for a capture that has a dump. */
  cpuError?: string;
  /** Agent targets: the agent's clock minus this side's, and the round trip it was measured over. */
  clockOffsetMs?: number;
  clockRttMs?: number;
  /** Agent targets: how the agent itself took the dump. */
  agentMethod?: CaptureMethod;
}

export interface BundleManifest {
  version: typeof BUNDLE_VERSION;
  /** Epoch ms when capture began. */
  createdAt: number;
  intervalMs: number;
  count: number;
  timeoutMs: number;
  maxBytes: number;
  targets: BundleTarget[];
  rounds: BundleRound[];
  captures: CaptureRecord[];
  /** Set once every round has finished; a bundle without it was interrupted. */
  completedAt?: number;
}

/** The manifest's schema, built on first use: zod loads only for commands that read a bundle. */
let manifestSchemaMemo: ReturnType<typeof buildManifestSchema> | undefined;
async function manifestSchema(): Promise<ReturnType<typeof buildManifestSchema>> {
  manifestSchemaMemo ??= buildManifestSchema((await import('zod')).z);
  return manifestSchemaMemo;
}

function buildManifestSchema(z: typeof import('zod').z) {
  const round = z
    .number()
    .int()
    .min(0)
    .max(MAX_MANIFEST_ROUNDS - 1);
  return z.object({
    version: z.literal(BUNDLE_VERSION),
    createdAt: z.number(),
    intervalMs: z.number(),
    count: z.number().int().min(0).max(MAX_MANIFEST_ROUNDS),
    timeoutMs: z.number(),
    maxBytes: z.number(),
    targets: z
      .array(
        z.object({
          name: z.string(),
          kind: z.enum(['url', 'jvm', 'cmd', 'agent', 'ssh', 'kubectl']),
          spec: z.string(),
          addr: z.string().optional(),
          dir: z.string(),
          match: z.string().optional(),
          mainClass: z.string().optional(),
        }),
      )
      .max(MAX_MANIFEST_TARGETS),
    rounds: z
      .array(
        z.object({
          round,
          scheduledAt: z.number(),
          skewMs: z.number(),
          firstByteSkewMs: z.number().optional(),
        }),
      )
      .max(MAX_MANIFEST_ROUNDS),
    captures: z
      .array(
        z.object({
          node: z.string(),
          round,
          scheduledAt: z.number(),
          startedAt: z.number().optional(),
          finishedAt: z.number().optional(),
          file: z.string().optional(),
          bytes: z.number().optional(),
          error: z.string().optional(),
          status: z.number().optional(),
          method: z.enum(['attach', 'jcmd', 'jstack', 'http', 'cmd', 'agent']).optional(),
          requestedAtMs: z.number().optional(),
          firstByteAtMs: z.number().optional(),
          pid: z.number().int().optional(),
          cpuFile: z.string().optional(),
          cpuError: z.string().optional(),
          clockOffsetMs: z.number().optional(),
          clockRttMs: z.number().optional(),
          agentMethod: z.enum(['attach', 'jcmd', 'jstack', 'http', 'cmd', 'agent']).optional(),
        }),
      )
      .max(MAX_MANIFEST_CAPTURES),
    completedAt: z.number().optional(),
  });
}

/** The file beside a dump that holds its per-thread CPU sample. */
export function cpuFileName(round: number): string {
  return `${round}.cpu.json`;
}

/** Name of a capture's output while it is being written: hidden, so no reader takes it for a dump. */
export function partialFileName(round: number): string {
  return `.${round}.txt.part`;
}

/**
 * A folder name for a node: letters, digits, '.', '_' and '-' only, never '.' or '..', bounded;
 * `taken` (lower-cased names already used) makes it unique on case-insensitive file systems too.
 */
export function sanitizeNodeDir(name: string, taken: Set<string> = new Set()): string {
  let base = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_NODE_DIR_CHARS);
  if (base.length === 0 || /^\.+$/.test(base)) base = `node_${base.length}`;
  let dir = base;
  for (let i = 2; taken.has(dir.toLowerCase()) || dir.toLowerCase() === MANIFEST_FILE; i++) {
    dir = `${base.slice(0, MAX_NODE_DIR_CHARS - 6)}-${i}`;
  }
  taken.add(dir.toLowerCase());
  return dir;
}

export function captureFileName(round: number): string {
  return `${round}.txt`;
}

/** Thrown when a bundle directory already holds data and overwriting was not asked for. */
export class BundleExistsError extends Error {
  override name = 'BundleExistsError';
}

/**
 * Why DIR cannot receive a new bundle, checked before any work: it is a file, or holds data and
 * overwriting was not asked for. undefined when it can (it may not exist yet).
 */
export function bundleDirProblem(dir: string, force: boolean): string | undefined {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return `cannot use ${dir} as the bundle directory: ${code ?? (err as Error).message}`;
  }
  if (!st.isDirectory()) return `${dir} is not a directory: give --out a directory to create (or an empty one)`;
  if (!force && readdirSync(dir).length > 0) {
    return `${dir} is not empty; refusing to overwrite (use --force, or another --out)`;
  }
  return undefined;
}

/**
 * Prepares DIR for a new bundle: creates it, or refuses when it is not empty (unless force, which
 * removes only what a bundle of these targets would write: manifest.json and the node folders).
 */
export async function prepareBundleDir(dir: string, targets: BundleTarget[], force: boolean): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (entries.length > 0) {
    if (!force) {
      throw new BundleExistsError(`${dir} is not empty; refusing to overwrite (use --force, or another --out)`);
    }
    await rm(join(dir, MANIFEST_FILE), { force: true });
    for (const t of targets) await rm(join(dir, t.dir), { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  for (const t of targets) await mkdir(join(dir, t.dir), { recursive: true });
}

/** Writes the manifest atomically (temp file + rename), so readers never see half of it. */
export async function writeManifest(dir: string, manifest: BundleManifest): Promise<void> {
  const tmp = join(dir, `.${MANIFEST_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
  await rename(tmp, join(dir, MANIFEST_FILE));
}

export async function readManifest(dir: string): Promise<BundleManifest> {
  const path = join(dir, MANIFEST_FILE);
  const st = await stat(path);
  if (st.size > MAX_MANIFEST_BYTES) throw new Error(`${path}: manifest over ${MAX_MANIFEST_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message})`);
  }
  const parsed = (await manifestSchema()).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: not a ${BUNDLE_VERSION} manifest (${issue?.path.join('.')}: ${issue?.message})`);
  }
  return parsed.data as BundleManifest;
}

export interface BundleSample {
  node: string;
  round: number;
  /** Absolute path of the captured bytes; undefined when the capture wrote nothing. */
  file?: string;
  scheduledAt: number;
  startedAt?: number;
  finishedAt?: number;
  bytes?: number;
  error?: string;
  /** Absolute path of the per-thread CPU sample taken with the dump, when there is one. */
  cpuFile?: string;
}

export interface BundleNode {
  name: string;
  kind: TargetKind | 'file';
  spec: string;
  addr?: string;
  /** In round order. */
  samples: BundleSample[];
}

export interface Bundle {
  dir: string;
  /** Absent for a plain folder of dumps without manifest.json. */
  manifest?: BundleManifest;
  nodes: BundleNode[];
  rounds: BundleRound[];
}

/**
 * Reads a bundle: with manifest.json, every capture record per node in round order; without one,
 * a plain folder of dumps is accepted too: each subfolder is a node, its files (sorted by their
 * leading number, then name) are its samples.
 */
export async function readBundle(dir: string): Promise<Bundle> {
  const abs = resolve(dir);
  // Looked for synchronously: a plain folder is the common input, and the first asynchronous
  // file operation of a process starts libuv's thread pool (~10 ms before parsing can start).
  if (statSync(join(abs, MANIFEST_FILE), { throwIfNoEntry: false }) === undefined) return readPlainFolder(abs);
  let manifest: BundleManifest | undefined;
  try {
    manifest = await readManifest(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (manifest === undefined) return readPlainFolder(abs);
  const nodes = new Map<string, BundleNode>();
  for (const t of manifest.targets) {
    nodes.set(t.name, { name: t.name, kind: t.kind, spec: t.spec, ...(t.addr ? { addr: t.addr } : {}), samples: [] });
  }
  for (const c of manifest.captures) {
    let n = nodes.get(c.node);
    if (n === undefined) {
      n = { name: c.node, kind: 'file', spec: '', samples: [] };
      nodes.set(c.node, n);
    }
    n.samples.push({
      node: c.node,
      round: c.round,
      ...(c.file !== undefined ? { file: insideBundle(abs, c.file) } : {}),
      scheduledAt: c.scheduledAt,
      ...(c.startedAt !== undefined ? { startedAt: c.startedAt } : {}),
      ...(c.finishedAt !== undefined ? { finishedAt: c.finishedAt } : {}),
      ...(c.bytes !== undefined ? { bytes: c.bytes } : {}),
      ...(c.error !== undefined ? { error: c.error } : {}),
      ...(c.cpuFile !== undefined ? { cpuFile: join(abs, c.cpuFile) } : {}),
    });
  }
  for (const n of nodes.values()) n.samples.sort((a, b) => a.round - b.round);
  return { dir: abs, manifest, nodes: [...nodes.values()], rounds: manifest.rounds };
}

/**
 * A capture file named by the manifest, which must lie inside the bundle: a manifest is input
 * like any other, and `../../etc/passwd` or a symbolic link out of the bundle must not be read.
 */
function insideBundle(abs: string, file: string): string {
  const path = resolve(abs, file);
  const rel = relative(abs, path);
  const outside = (p: string): boolean => p === '' || p === '..' || p.startsWith(`..${sep}`) || isAbsolute(p);
  if (isAbsolute(file) || outside(rel) || outside(relative(realOrSelf(abs), realOrSelf(path))))
    throw new Error(`${join(abs, MANIFEST_FILE)}: capture file '${file}' is outside the bundle`);
  return path;
}

/** The path with symbolic links resolved, or itself when it does not exist (reading reports that). */
function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

async function readPlainFolder(abs: string): Promise<Bundle> {
  // Synchronous: a listing is quick, and a hundred node folders read one await after another
  // cost tens of milliseconds of thread-pool round trips before parsing can start.
  const entries = readdirSync(abs, { withFileTypes: true });
  const nodes: BundleNode[] = [];
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const spec = join(abs, e.name);
    const files = readdirSync(spec, { withFileTypes: true })
      .filter((f) => f.isFile() && !f.name.startsWith('.'))
      .map((f) => f.name)
      .sort(byLeadingNumber);
    if (files.length === 0) continue;
    nodes.push({
      name: e.name,
      kind: 'file',
      spec,
      // A listed name holds no separator and is neither . nor ..: join(spec, f) without its normalizing.
      samples: files.map((f, i) => ({ node: e.name, round: i, file: spec + sep + f, scheduledAt: NaN })),
    });
  }
  if (nodes.length === 0)
    throw new Error(`${abs}: neither a bundle (no ${MANIFEST_FILE}) nor a folder of node folders`);
  const rounds = Math.max(...nodes.map((n) => n.samples.length));
  return {
    dir: abs,
    nodes,
    rounds: Array.from({ length: rounds }, (_, round) => ({ round, scheduledAt: NaN, skewMs: NaN })),
  };
}

function byLeadingNumber(a: string, b: string): number {
  const na = parseInt(a, 10);
  const nb = parseInt(b, 10);
  if (!Number.isNaN(na) && !Number.isNaN(nb) && na !== nb) return na - nb;
  return a.localeCompare(b);
}
