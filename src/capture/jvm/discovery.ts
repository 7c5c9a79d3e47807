// Local JVMs, as `jps -l` sees them but from /proc and hsperfdata alone (no JVM started): pid,
// owner, main class, and whether the attach protocol can reach each one — with the reason when
// not. A process counts as a HotSpot JVM only when its memory maps show libjvm.so (an hsperfdata
// file alone can be stale: a JVM killed with SIGKILL leaves it behind for the next owner of the
// pid). That proof is what allows a SIGQUIT later, which would kill any other process.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { listPerfDataFiles, readPerfData, type PerfDataFile } from './hsperfdata.js';
import { ProcFs, userName } from './procfs.js';

/** Bound on processes examined by one discovery. */
export const MAX_PROCESSES_SCANNED = 100_000;
/** Bound on JVMs one discovery returns. */
export const MAX_JVMS = 10_000;
const MAX_PERF_FILES = 100_000;

/** The JDK's own tools are JVMs too; a capture never wants them. */
const JDK_TOOL_CLASSES = new Set([
  'sun.tools.jcmd.JCmd',
  'jdk.jcmd/sun.tools.jcmd.JCmd',
  'sun.tools.jps.Jps',
  'jdk.jcmd/sun.tools.jps.Jps',
  'sun.tools.jstack.JStack',
  'jdk.jcmd/sun.tools.jstack.JStack',
]);

export type JvmKind = 'hotspot' | 'openj9' | 'unknown';

export interface JvmInfo {
  pid: number;
  /** The pid inside the JVM's own pid namespace (differs in containers). */
  nsPid: number;
  uid: number;
  user?: string;
  /** Main class, `app.jar`, or `module/class`; '' when unknown. */
  mainClass: string;
  /** Main class and arguments (hsperfdata), else the command line. */
  command: string;
  kind: JvmKind;
  vm?: string;
  javaVersion?: string;
  attachable: boolean;
  /** Why attach is not possible (when attachable is false). */
  reason?: string;
  /** Start time in clock ticks after boot: pid plus start time name one process. */
  startTicks?: number;
  /** The attach socket, as reachable from here. */
  socketPath: string;
}

export interface DiscoveryContext {
  proc?: ProcFs;
  /** Our effective uid (process.geteuid()). */
  euid?: number;
  /** Our own /tmp, for processes whose mount namespace we may not inspect. */
  tmpDir?: string;
  selfPid?: number;
  platform?: string;
}

interface Resolved {
  proc: ProcFs;
  /** Our mount namespace: processes in another one have their own /tmp. */
  ownNamespace: string | undefined;
  euid: number;
  tmpDir: string;
  selfPid: number;
  platform: string;
}

function resolveContext(ctx: DiscoveryContext): Resolved {
  const proc = ctx.proc ?? new ProcFs();
  return {
    proc,
    ownNamespace: proc.mountNamespace(ctx.selfPid ?? process.pid),
    euid: ctx.euid ?? process.geteuid?.() ?? -1,
    tmpDir: ctx.tmpDir ?? '/tmp',
    selfPid: ctx.selfPid ?? process.pid,
    platform: ctx.platform ?? process.platform,
  };
}

/** Why a pid is not a JVM this host can describe: it does not exist, or it is not Java. */
export class NotAJvmError extends Error {
  override name = 'NotAJvmError';
}

/** Every JVM on this host (HotSpot or OpenJ9, and other users' Java processes), by pid. */
export function listJvms(ctx: DiscoveryContext = {}): JvmInfo[] {
  const c = resolveContext(ctx);
  if (c.platform !== 'linux') return [];
  const perfByNamespace = new Map<string, Map<number, PerfDataFile>>();
  const ownTmp = listPerfDataFiles(c.tmpDir, MAX_PERF_FILES);
  const out: JvmInfo[] = [];
  for (const pid of c.proc.pids(MAX_PROCESSES_SCANNED)) {
    if (pid === c.selfPid) continue;
    const info = describe(c, pid, perfByNamespace, ownTmp, false);
    if (info === undefined || JDK_TOOL_CLASSES.has(info.mainClass)) continue;
    out.push(info);
    if (out.length >= MAX_JVMS) break;
  }
  return out;
}

/** One pid: its JvmInfo, or NotAJvmError saying why it is not one. */
export function inspectJvm(pid: number, ctx: DiscoveryContext = {}): JvmInfo {
  const c = resolveContext(ctx);
  if (c.platform !== 'linux') throw new NotAJvmError('native attach and /proc discovery need Linux');
  if (!c.proc.exists(pid)) throw new NotAJvmError(`no process with pid ${pid} (dead pid)`);
  const info = describe(c, pid, new Map(), listPerfDataFiles(c.tmpDir, MAX_PERF_FILES), true);
  if (info === undefined) {
    const name = c.proc.status(pid)?.name;
    throw new NotAJvmError(
      `pid ${pid}${name ? ` (${name})` : ''} is not a Java process (no libjvm.so in its maps, no hsperfdata file): not signalled`,
    );
  }
  return info;
}

function describe(
  c: Resolved,
  pid: number,
  perfByNamespace: Map<string, Map<number, PerfDataFile>>,
  ownTmp: Map<number, PerfDataFile>,
  /** Read the memory maps of every process (one pid), not only of likely JVMs (a listing). */
  thorough: boolean,
): JvmInfo | undefined {
  // Most of a listing's cost is reading /proc files of processes that are not Java: a listing looks
  // further only at processes with a java launcher, an hsperfdata file under our /tmp, or their
  // own mount namespace (a container); one pid (thorough) is always examined in full.
  const argv = c.proc.cmdline(pid) ?? [];
  const ns = c.proc.mountNamespace(pid);
  const ownNs = ns === undefined || ns === c.ownNamespace;
  if (!thorough && ownNs && !ownTmp.has(pid) && !isJavaLauncher(argv)) return undefined;
  const status = c.proc.status(pid);
  if (status === undefined) return undefined;
  // hsperfdata lives in the process's own /tmp (a container's, through /proc/<pid>/root); one
  // listing per mount namespace. A process whose root we may not see shares ours, or is not ours.
  const nsKey = ns ?? `pid:${pid}`;
  let perfFiles = perfByNamespace.get(nsKey);
  if (perfFiles === undefined) {
    perfFiles = listPerfDataFiles(c.proc.tmpDir(pid), MAX_PERF_FILES);
    perfByNamespace.set(nsKey, perfFiles);
  }
  const perfFile = perfFiles.get(status.nsPid) ?? (status.nsPid === pid ? ownTmp.get(pid) : undefined);
  if (!thorough && perfFile === undefined && !isJavaLauncher(argv)) return undefined;
  const library = c.proc.jvmLibrary(pid);
  let kind: JvmKind;
  if (library === 'hotspot') kind = 'hotspot';
  else if (library === 'openj9') kind = 'openj9';
  else if (library === 'unreadable' && (perfFile !== undefined || isJavaLauncher(argv))) kind = 'unknown';
  else return undefined;
  const perf = perfFile !== undefined && kind !== 'openj9' ? readPerfData(perfFile.path) : undefined;
  const fromArgs = mainClassOf(argv);
  const command = perf?.javaCommand ?? (fromArgs.index >= 0 ? argv.slice(fromArgs.index).join(' ') : argv.join(' '));
  const mainClass = perf?.javaCommand !== undefined ? firstToken(perf.javaCommand) : fromArgs.mainClass;
  const user = perfFile?.user ?? userName(status.uid);
  const socketPath = join(c.proc.tmpDir(pid), `.java_pid${status.nsPid}`);
  const startTicks = c.proc.startTicks(pid);
  const info: JvmInfo = {
    pid,
    nsPid: status.nsPid,
    uid: status.uid,
    ...(user !== undefined ? { user } : {}),
    mainClass,
    command,
    kind,
    ...(perf?.vm !== undefined ? { vm: perf.vm } : {}),
    ...(perf?.javaVersion !== undefined ? { javaVersion: perf.javaVersion } : {}),
    attachable: false,
    ...(startTicks !== undefined ? { startTicks } : {}),
    socketPath,
  };
  const reason = attachBlocker(c, info, {
    attachEnabled: perf?.attachEnabled,
    catchesQuit: status.catchesQuit && !status.ignoresQuit,
    disabledByFlag: disablesAttach(argv) || envDisablesAttach(c.proc, pid),
  });
  if (reason === undefined) info.attachable = true;
  else info.reason = reason;
  return info;
}

function attachBlocker(
  c: Resolved,
  info: JvmInfo,
  facts: { attachEnabled: boolean | undefined; catchesQuit: boolean; disabledByFlag: boolean },
): string | undefined {
  if (c.platform !== 'linux') return 'native attach needs Linux';
  if (info.uid !== c.euid && c.euid !== 0) {
    const who = info.user !== undefined ? `${info.uid} (${info.user})` : String(info.uid);
    return `owned by uid ${who}; attach needs that user or root (running as uid ${c.euid})`;
  }
  if (info.kind === 'openj9') return 'an OpenJ9 JVM: the HotSpot attach protocol does not apply (use jcmd/jstack)';
  if (info.kind !== 'hotspot') return 'not confirmed to be a HotSpot JVM (no libjvm.so in its maps): not signalled';
  if (facts.attachEnabled === false || facts.disabledByFlag) {
    return 'attach is disabled in this JVM (-XX:+DisableAttachMechanism)';
  }
  // A running attach listener needs no signal; otherwise SIGQUIT must reach a HotSpot handler,
  // or it would end the process (started with -Xrs, or too early in its start-up).
  if (!facts.catchesQuit && !existsSync(info.socketPath)) {
    return 'the JVM does not handle SIGQUIT yet (started with -Xrs, or still starting): not signalled';
  }
  return undefined;
}

function disablesAttach(args: readonly string[]): boolean {
  let disabled = false;
  for (const a of args) {
    if (a === '-XX:+DisableAttachMechanism') disabled = true;
    else if (a === '-XX:-DisableAttachMechanism') disabled = false;
  }
  return disabled;
}

function envDisablesAttach(proc: ProcFs, pid: number): boolean {
  for (const v of ['JAVA_TOOL_OPTIONS', 'JDK_JAVA_OPTIONS', '_JAVA_OPTIONS']) {
    const value = proc.environ(pid, v);
    if (value !== undefined && disablesAttach(value.split(/\s+/))) return true;
  }
  return false;
}

function isJavaLauncher(argv: readonly string[]): boolean {
  return argv.length > 0 && /java/i.test(basename(argv[0]!));
}

function firstToken(s: string): string {
  return s.trim().split(/\s+/)[0] ?? '';
}

/** java options that take the next argument as their value. */
const OPTIONS_WITH_VALUE = new Set([
  '-cp',
  '-classpath',
  '--class-path',
  '-p',
  '--module-path',
  '--upgrade-module-path',
  '--add-modules',
  '--limit-modules',
  '--add-reads',
  '--add-exports',
  '--add-opens',
  '--patch-module',
  '--enable-native-access',
]);

/** The main class (or `-jar` file, or `-m` module/class) of a java command line, and its index. */
export function mainClassOf(argv: readonly string[]): { mainClass: string; index: number } {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-jar' || a === '-m' || a === '--module') {
      return i + 1 < argv.length ? { mainClass: argv[i + 1]!, index: i + 1 } : { mainClass: '', index: -1 };
    }
    if (OPTIONS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return { mainClass: a, index: i };
  }
  return { mainClass: '', index: -1 };
}

/** `org.apache.hadoop.hbase.master.HMaster` → `HMaster`; `/opt/app.jar` → `app`; `mod/p.Main` → `Main`. */
export function simpleMainName(mainClass: string): string {
  if (mainClass.length === 0) return 'java';
  const base = basename(mainClass);
  if (base.endsWith('.jar')) return base.slice(0, -4) || 'java';
  const parts = base.split('/');
  const cls = parts[parts.length - 1]!;
  return cls.split('.').pop() || 'java';
}

/** A `--jvm-match` value: REGEX, or NAME=REGEX to name the node. */
export interface JvmMatcher {
  name?: string;
  regex: RegExp;
  source: string;
}

/** Parses `REGEX` or `NAME=REGEX` (NAME: letters, digits, '.', '_', '-'); throws on a bad regex. */
export function parseJvmMatcher(value: string): JvmMatcher {
  const m = /^([A-Za-z0-9._-]+)=(.+)$/.exec(value);
  const name = m?.[1];
  const pattern = m?.[2] ?? value;
  if (pattern.length === 0) throw new Error(`--jvm-match takes REGEX or NAME=REGEX, not '${value}'`);
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (err) {
    throw new Error(`--jvm-match '${value}': ${(err as Error).message}`);
  }
  return { ...(name !== undefined ? { name } : {}), regex, source: value };
}

export function jvmMatches(m: JvmMatcher, jvm: Pick<JvmInfo, 'mainClass' | 'command'>): boolean {
  return m.regex.test(jvm.mainClass) || m.regex.test(jvm.command);
}

export interface MatchedJvm<J> {
  /** The node name: NAME, NAME-<pid> when NAME matched several, else <MainClass>-<pid>. */
  name: string;
  jvm: J;
  matcher: JvmMatcher;
}

/**
 * Applies matchers in order to a list of JVMs (each JVM is taken by the first matcher that
 * matches it). `suffix` is appended to every node name (`@host` for remote hosts).
 */
export function matchJvms<J extends Pick<JvmInfo, 'pid' | 'mainClass' | 'command'>>(
  jvms: readonly J[],
  matchers: readonly JvmMatcher[],
  suffix = '',
): MatchedJvm<J>[] {
  const taken = new Set<number>();
  const out: MatchedJvm<J>[] = [];
  for (const m of matchers) {
    const hits = jvms.filter((j) => !taken.has(j.pid) && jvmMatches(m, j));
    for (const j of hits) {
      taken.add(j.pid);
      const base =
        m.name === undefined
          ? `${simpleMainName(j.mainClass)}-${j.pid}`
          : hits.length === 1
            ? m.name
            : `${m.name}-${j.pid}`;
      out.push({ name: base + suffix, jvm: j, matcher: m });
    }
  }
  return out;
}
