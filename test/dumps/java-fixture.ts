// Test helper: compiles the HBase-shaped Java fixture (fixtures/java) and runs it as real JVMs, so
// tests can capture and analyze live thread dumps. See fixtures/java/README.md for what it does.
//
//   const cluster = await startJavaCluster({ regionServerJvms: 2, handlers: 3 }); // deadlocks
//   try {
//     await cluster.waitForEvent(/checking backup table/, 10_000, 2); // both workers called back
//     ... capture cluster.pids ...
//   } finally {
//     await cluster.stop(); // always kills every JVM it started
//   }
//
// Variants (all with the master's default pool of `handlers` and `regionServerJvms × serversPerJvm`
// workers): mode 'nested' deadlocks when workers ≥ handlers − 1 (every free handler holds a worker's
// check and waits on a nested call no handler will take) and completes below that (the small
// cluster); mode 'slow' keeps those handlers busy but progressing (changing stacks) for slowMs.
// backupIntervalMs repeats the backup (a healthy small cluster keeps showing its waits to samples).
// The JVMs also exit by themselves when the test process dies (their stdin closes).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../support/environment.js';
import {
  buildCached,
  commandWorks,
  filesUnder,
  killAll,
  launch,
  runTool,
  type LaunchedProcess,
} from '../systems/jvm.js';

export const JAVA_FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/java/', import.meta.url));
const SOURCE_DIR = join(JAVA_FIXTURE_DIR, 'src');
const BUILD_DIR = join(JAVA_FIXTURE_DIR, 'build');
const MASTER_CLASS = 'org.apache.hadoop.hbase.master.HMaster';
const REGION_SERVER_CLASS = 'org.apache.hadoop.hbase.regionserver.HRegionServer';
/** Small, quick-starting JVMs: the fixture needs little memory and no JIT to speak of. */
const JVM_FLAGS = ['-Xmx64m', '-Xss512k', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];
const MAX_EVENTS = 10_000;

/** True when javac, java and jcmd (or jstack) are on PATH: the live tests need all three. */
/** Whether the live-JVM tests can run here: skipped with a warning locally, an error in CI. */
export function javaForTests(): boolean {
  return requireTool('Java tools (javac, java, jcmd or jstack)', javaToolsAvailable(), 'install a JDK (17 or later)');
}

export function javaToolsAvailable(): boolean {
  const ok = commandWorks;
  return ok('javac', ['-version']) && ok('java', ['-version']) && (ok('jcmd', ['-h']) || ok('jstack', ['-h']));
}

/**
 * Compiles the fixture once per source content into fixtures/java/build/<hash> and returns that
 * class path. Concurrent callers (parallel test files) each compile into a temporary folder and
 * the first rename wins.
 */
export function compileJavaFixture(): string {
  const sources = filesUnder(SOURCE_DIR, ['.java']);
  return buildCached(SOURCE_DIR, sources, BUILD_DIR, (tmp) =>
    runTool('javac', ['--release', '17', '-nowarn', '-d', tmp, ...sources]),
  );
}

export interface JavaClusterOptions {
  /** Region server JVMs (each a separate process); default 2. */
  regionServerJvms?: number;
  /** Logical region servers (procedure members) per JVM; default 1. */
  serversPerJvm?: number;
  /** Master default-pool handlers; default 3. */
  handlers?: number;
  /** Master default-pool call queues; default 1. */
  queues?: number;
  priorityHandlers?: number;
  /** 'nested' (default): the master's handling of a worker's check calls back into the master. */
  mode?: 'nested' | 'slow';
  /** How long the master works on a check before its nested call (so checks overlap); default 300. */
  checkDelayMs?: number;
  /** How long a check takes in slow mode; default 20000. */
  slowMs?: number;
  rollMs?: number;
  procedureTimeoutMs?: number;
  rpcTimeoutMs?: number;
  /** Start the backup log roll once every worker has registered; default true. */
  autoStart?: boolean;
  /** Run a backup every this many ms after the previous one ends (a staging cluster's schedule); default once. */
  backupIntervalMs?: number;
  /** How long the master's getTableState (the nested call) takes; default 0. */
  tableStateMs?: number;
  /** Give up starting after this long; default 30000. */
  startTimeoutMs?: number;
  /** Idle executor threads in every JVM (a real server's thread count); default 0. */
  idleThreads?: number;
  /** Extra JVM flags (e.g. -XX:+DisableAttachMechanism). */
  jvmFlags?: string[];
  /** Passed to every JVM as `--tag TAG`: a test finds its own JVMs by it (capture --jvm-match). */
  tag?: string;
}

export interface JavaProcess {
  role: 'master' | 'regionserver';
  /** 'master', 'rs1', 'rs2', … (the name to capture it under). */
  name: string;
  pid: number;
  /** Procedure member names (ServerName strings) hosted by a region server JVM. */
  servers: string[];
}

export interface JavaCluster {
  master: JavaProcess;
  regionServers: JavaProcess[];
  /** Master first. */
  processes: JavaProcess[];
  /** Every `rollcall-fixture …` line printed so far, without the prefix. */
  events: string[];
  /** Resolves with the matching event once `count` events match (default 1); rejects after timeoutMs. */
  waitForEvent(pattern: RegExp, timeoutMs?: number, count?: number): Promise<string>;
  /** Kills every JVM of the cluster (SIGKILL) and waits for them to exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a master and its region server JVMs; on any failure everything started is killed. */
export async function startJavaCluster(options: JavaClusterOptions = {}): Promise<JavaCluster> {
  const classpath = compileJavaFixture();
  const rsJvms = options.regionServerJvms ?? 2;
  const perJvm = options.serversPerJvm ?? 1;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const common = [
    '--exit-on-stdin-eof',
    'true',
    '--mode',
    options.mode ?? 'nested',
    '--check-delay-ms',
    String(options.checkDelayMs ?? 300),
    '--slow-ms',
    String(options.slowMs ?? 20_000),
    '--roll-ms',
    String(options.rollMs ?? 50),
    '--procedure-timeout-ms',
    String(options.procedureTimeoutMs ?? 60_000),
    '--rpc-timeout-ms',
    String(options.rpcTimeoutMs ?? 60_000),
    '--idle-threads',
    String(options.idleThreads ?? 0),
    ...(options.tag !== undefined ? ['--tag', options.tag] : []),
    '--table-state-ms',
    String(options.tableStateMs ?? 0),
  ];
  const events: string[] = [];
  const waiters: (() => void)[] = [];
  const children: LaunchedProcess[] = [];
  const onEvent = (line: string): void => {
    if (events.length < MAX_EVENTS) events.push(line);
    for (const w of [...waiters]) w();
  };
  const start = (cls: string, args: string[]): LaunchedProcess => {
    const child = launch({
      name: cls.slice(cls.lastIndexOf('.') + 1),
      command: 'java',
      args: [...JVM_FLAGS, ...(options.jvmFlags ?? []), '-cp', classpath, cls, ...args],
      onEvent,
    });
    children.push(child);
    return child;
  };
  const waitForEvent = (pattern: RegExp, timeoutMs = 10_000, count = 1): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hits = events.filter((e) => pattern.test(e));
        if (hits.length < count) return false;
        cleanup();
        resolve(hits[count - 1]!);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const output = children.map((c) => `${c.name}: ${c.tail()}`).join('\n');
        reject(
          new Error(
            `no ${count}× event ${pattern} within ${timeoutMs} ms; events: ${events.slice(-20).join(' | ')}\n${output}`,
          ),
        );
      }, timeoutMs);
      const waiter = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
      };
      if (!check()) waiters.push(waiter);
    });
  const stop = (): Promise<void> => killAll(children);

  try {
    const masterChild = start(MASTER_CLASS, [
      '--handlers',
      String(options.handlers ?? 3),
      '--queues',
      String(options.queues ?? 1),
      '--priority-handlers',
      String(options.priorityHandlers ?? 4),
      '--expect',
      String(rsJvms * perJvm),
      '--auto-start',
      String(options.autoStart ?? true),
      '--backup-interval-ms',
      String(options.backupIntervalMs ?? -1),
      ...common,
    ]);
    const ready = await waitForEvent(/^master ready port=\d+ pid=\d+/, startTimeoutMs);
    const port = Number(/port=(\d+)/.exec(ready)![1]);
    const master: JavaProcess = { role: 'master', name: 'master', pid: masterChild.pid, servers: [] };
    const regionServers: JavaProcess[] = [];
    for (let j = 0; j < rsJvms; j++) {
      const first = 1 + j * perJvm;
      const child = start(REGION_SERVER_CLASS, [
        '--master-port',
        String(port),
        '--servers',
        String(perJvm),
        '--first-index',
        String(first),
        ...common,
      ]);
      regionServers.push({
        role: 'regionserver',
        name: `rs${j + 1}`,
        pid: child.pid,
        servers: Array.from({ length: perJvm }, (_, i) => `rs${first + i},16020,${1700000000000 + first + i}`),
      });
    }
    await waitForEvent(/^regionserver ready /, startTimeoutMs, rsJvms);
    return {
      master,
      regionServers,
      processes: [master, ...regionServers],
      events,
      waitForEvent,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface LoneJvmOptions {
  /** Passed as `--tag TAG`, to find this JVM by (capture --jvm-match). */
  tag?: string;
  idleThreads?: number;
  jvmFlags?: string[];
  /** Run as another user (needs root): through setpriv. */
  runAs?: { uid: number; gid: number };
  cwd?: string;
  startTimeoutMs?: number;
}

export interface LoneJvm {
  pid: number;
  /** Lines the JVM printed on stdout (its fixture events, and anything else, e.g. a SIGQUIT dump). */
  stdout: string[];
  stop(): Promise<void>;
}

/**
 * One idle fixture JVM (a master that expects a region server and never starts a procedure): a
 * plain live JVM with an HBase-like thread set, as any user. Killed by stop() or when the test
 * process goes away.
 */
export async function startLoneJvm(options: LoneJvmOptions = {}): Promise<LoneJvm> {
  const classpath = compileJavaFixture();
  const java = [
    'java',
    ...JVM_FLAGS,
    ...(options.jvmFlags ?? []),
    '-cp',
    classpath,
    MASTER_CLASS,
    '--exit-on-stdin-eof',
    'true',
    '--auto-start',
    'false',
    '--idle-threads',
    String(options.idleThreads ?? 0),
    ...(options.tag !== undefined ? ['--tag', options.tag] : []),
  ];
  const argv = options.runAs
    ? ['setpriv', `--reuid=${options.runAs.uid}`, `--regid=${options.runAs.gid}`, '--clear-groups', ...java]
    : java;
  const stdout: string[] = [];
  const child = launch({
    name: 'lone-jvm',
    command: argv[0]!,
    args: argv.slice(1),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    onStdoutLine: (line) => {
      if (stdout.length < MAX_EVENTS) stdout.push(line);
    },
  });
  try {
    const ready = await child.waitForEvent(/^master ready port=\d+ pid=\d+/, options.startTimeoutMs ?? 30_000, {
      past: true,
    });
    // The JVM's own pid: under setpriv the child is setpriv, replaced by java through exec.
    return { pid: Number(/pid=(\d+)/.exec(ready)![1]), stdout, stop: () => child.kill() };
  } catch (err) {
    await child.kill();
    throw err;
  }
}
