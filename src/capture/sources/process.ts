// Captures that run a process: jcmd or jstack against a local pid, a user's shell command, and the
// ssh and kubectl presets that run jcmd on another host or in a pod. The process is started ahead
// of the instant and held at a gate — a shell waiting for a line on its stdin — so that at the
// instant the capture costs one write. For ssh and kubectl the gate is on the far side: the remote
// shell is connected and waiting, so connection set-up happens before the instant, not after.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { CaptureMethod } from '../../dumps/bundle.js';
import { epochNowMs } from '../clock.js';
import type { ArmedSource, SourceOutcome } from './types.js';

/** Longest stderr (or stdout head) excerpt kept in an error message. */
const MAX_STDERR_CHARS = 500;
/** The gate's exit status when it is closed without a line: the command never ran. */
const GATE_CLOSED_STATUS = 125;

export interface JvmTool {
  /** Absolute path or bare command name. */
  command: string;
  kind: 'jcmd' | 'jstack';
}

/** jcmd if available, else jstack, searched in $JAVA_HOME/bin then PATH; null when neither. */
export function findJvmTool(env: NodeJS.ProcessEnv = process.env, only?: 'jcmd' | 'jstack'): JvmTool | null {
  const dirs = [
    ...(env.JAVA_HOME ? [join(env.JAVA_HOME, 'bin')] : []),
    ...(env.PATH ?? '').split(delimiter).filter((d) => d.length > 0),
  ];
  const exe = process.platform === 'win32' ? '.exe' : '';
  for (const kind of only !== undefined ? [only] : (['jcmd', 'jstack'] as const)) {
    for (const d of dirs) {
      const p = join(d, kind + exe);
      if (existsSync(p)) return { command: p, kind };
    }
  }
  return null;
}

/** The arguments that make a JDK tool print a thread dump with lock details. */
export function jvmToolArgs(tool: JvmTool['kind'], pid: string): string[] {
  return tool === 'jcmd' ? [pid, 'Thread.print', '-l'] : ['-l', pid];
}

export interface ProcessPlan {
  method: Extract<CaptureMethod, 'jcmd' | 'jstack' | 'cmd'>;
  /** Named in error messages: 'jcmd', 'jstack', 'command', 'ssh', 'kubectl'. */
  label: string;
  /** A program and its arguments, or (shell) one shell command line. */
  command: string;
  args: string[];
  shell: boolean;
  /** 'local': held by a local shell; 'remote': the command itself waits for the gate line. */
  gate: 'local' | 'remote';
  /** Own process group, so a kill reaches what the command started (pipelines, ssh). */
  group: boolean;
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The remote side of a gated preset: wait for the gate line, then become jcmd. */
export function remoteGatedJcmd(pid: string): string {
  return `read _gate || exit ${GATE_CLOSED_STATUS}; exec jcmd ${shellQuote(pid)} Thread.print -l`;
}

export function sshPlan(host: string, pid: string): ProcessPlan {
  return {
    method: 'cmd',
    label: 'ssh',
    command: 'ssh',
    // BatchMode: never stop for a password prompt; -T: no terminal, stdin stays the gate.
    args: [
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      host,
      '--',
      `sh -c ${shellQuote(remoteGatedJcmd(pid))}`,
    ],
    shell: false,
    gate: 'remote',
    group: true,
  };
}

/** POD[@NAMESPACE] → kubectl exec arguments before `--`. */
export function kubectlTarget(podSpec: string): string[] {
  const at = podSpec.lastIndexOf('@');
  return at > 0 ? [podSpec.slice(0, at), '-n', podSpec.slice(at + 1)] : [podSpec];
}

export function kubectlPlan(podSpec: string, pid: string): ProcessPlan {
  return {
    method: 'cmd',
    label: 'kubectl',
    command: 'kubectl',
    args: ['exec', '-i', ...kubectlTarget(podSpec), '--', 'sh', '-c', remoteGatedJcmd(pid)],
    shell: false,
    gate: 'remote',
    group: true,
  };
}

export function jvmToolPlan(tool: JvmTool, pid: string): ProcessPlan {
  return {
    method: tool.kind,
    label: tool.kind,
    command: tool.command,
    args: jvmToolArgs(tool.kind, pid),
    shell: false,
    gate: 'local',
    group: false,
  };
}

export function commandPlan(commandLine: string): ProcessPlan {
  return { method: 'cmd', label: 'command', command: commandLine, args: [], shell: true, gate: 'local', group: true };
}

/** Starts the plan's process now (held at its gate); fire() lets it run. */
export function armProcess(plan: ProcessPlan): ArmedSource {
  return process.platform === 'win32' ? new LazyProcess(plan) : new GatedProcess(plan);
}

class GatedProcess implements ArmedSource {
  readonly method: ProcessPlan['method'];
  readonly stream: Promise<Readable>;
  readonly done: Promise<SourceOutcome>;
  requestedAtMs: number | undefined;
  firstByteAtMs: number | undefined;
  private readonly child: ChildProcess;

  constructor(private readonly plan: ProcessPlan) {
    this.method = plan.method;
    if (plan.gate === 'remote') {
      this.child = spawn(plan.command, plan.args, { stdio: ['pipe', 'pipe', 'pipe'], detached: plan.group });
    } else {
      // Started now, held by the shell until a line arrives on stdin (fire), then replaced by the
      // real command: starting a process takes milliseconds, opening the gate microseconds.
      const script = plan.shell
        ? `read _gate || exit ${GATE_CLOSED_STATUS}; eval "$1"`
        : `read _gate || exit ${GATE_CLOSED_STATUS}; exec "$@"`;
      this.child = spawn('/bin/sh', ['-c', script, 'rollcall-capture', plan.command, ...plan.args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: plan.group,
      });
    }
    this.child.stdin!.on('error', () => undefined);
    // Warms the write path (an empty write sends nothing), as for HTTP targets.
    this.child.stdin!.write(Buffer.alloc(0));
    this.child.stdout!.once('data', () => (this.firstByteAtMs ??= epochNowMs()));
    this.stream = Promise.resolve(this.child.stdout!);
    this.done = outcome(this.child, plan.label);
  }

  fire(): void {
    this.requestedAtMs = epochNowMs();
    this.child.stdin!.end('go\n');
  }

  kill(): void {
    killChild(this.child, this.plan.group);
  }
}

/** Without a gate (Windows) the process starts on fire(). */
class LazyProcess implements ArmedSource {
  readonly method: ProcessPlan['method'];
  readonly stream: Promise<Readable>;
  readonly done: Promise<SourceOutcome>;
  requestedAtMs: number | undefined;
  firstByteAtMs: number | undefined;
  private child: ChildProcess | undefined;
  private resolveStream!: (r: Readable) => void;
  private resolveDone!: (o: SourceOutcome) => void;

  constructor(private readonly plan: ProcessPlan) {
    this.method = plan.method;
    this.stream = new Promise((r) => (this.resolveStream = r));
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  fire(): void {
    this.requestedAtMs = epochNowMs();
    const p = this.plan;
    const child = p.shell
      ? spawn(p.command, { shell: true, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(p.command, p.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.once('data', () => (this.firstByteAtMs ??= epochNowMs()));
    this.resolveStream(child.stdout!);
    void outcome(child, p.label).then(this.resolveDone);
  }

  kill(): void {
    if (this.child !== undefined) killChild(this.child, false);
    else this.resolveDone({ error: `${this.plan.label} was not started (cancelled)` });
  }
}

function killChild(child: ChildProcess, group: boolean): void {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** How the process ended, with the most telling excerpt of its output on failure. */
function outcome(child: ChildProcess, label: string): Promise<SourceOutcome> {
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < MAX_STDERR_CHARS) stderr += s;
  });
  // jcmd reports attach failures on stdout; keep its start to explain a failure.
  let stdoutHead = '';
  child.stdout!.on('data', (b: Buffer) => {
    if (stdoutHead.length < MAX_STDERR_CHARS) stdoutHead += b.toString('utf8', 0, MAX_STDERR_CHARS);
  });
  return new Promise((resolveDone) => {
    let spawnError: string | undefined;
    child.on('error', (err) => {
      spawnError = err.message;
    });
    child.on('close', (code, sig) => {
      if (spawnError !== undefined) return resolveDone({ error: `${label}: ${spawnError}` });
      if (code === GATE_CLOSED_STATUS && stdoutHead.length === 0) {
        return resolveDone({ error: `${label} was not started (cancelled)` });
      }
      const detail = (stderr.trim() || lastLines(stdoutHead)).slice(0, MAX_STDERR_CHARS);
      if (code === 0) return resolveDone({ status: 0 });
      const how = code === null ? `killed by ${sig}` : `exited with ${code}`;
      resolveDone({
        ...(code === null ? {} : { status: code }),
        error: `${label} ${how}${detail ? `: ${detail}` : ''}`,
      });
    });
  });
}

/** The meaningful end of a short output: its last two non-empty lines, without stack frames. */
function lastLines(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('at '))
    .slice(-2)
    .join(' | ');
}

/** Runs a short command to completion (discovery over ssh/kubectl): stdout, or an error. */
export function runToCompletion(
  command: string,
  args: string[],
  timeoutMs: number,
  maxBytes: number,
): Promise<{ stdout: string; error?: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let cut = false;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      if (stdout.length + s.length > maxBytes) cut = true;
      else stdout += s;
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += s;
    });
    const timer = setTimeout(() => killChild(child, true), timeoutMs);
    let spawnError: string | undefined;
    child.on('error', (err) => (spawnError = err.message));
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const detail = stderr.trim().split('\n').slice(-2).join(' | ');
      if (spawnError !== undefined) return resolveRun({ stdout, error: `${command}: ${spawnError}` });
      if (cut) return resolveRun({ stdout, error: `${command}: output over ${maxBytes} bytes` });
      if (code !== 0) {
        const how = code === null ? `killed by ${sig} (timeout ${timeoutMs} ms?)` : `exited with ${code}`;
        return resolveRun({ stdout, error: `${command} ${how}${detail ? `: ${detail}` : ''}` });
      }
      resolveRun({ stdout });
    });
  });
}
