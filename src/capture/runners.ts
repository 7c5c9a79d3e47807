// One runner per capture target, living across rounds: it knows how to arm that target's capture
// for an instant, and keeps what must survive between rounds — a JVM's attach listener and its
// per-thread CPU sampler, and, for a JVM found by --jvm-match, how to find it again after a restart.
import type { BundleTarget, CaptureMethod } from '../dumps/bundle.js';
import { AttachError, HotSpotAttach } from './sources/attach.js';
import { ArmedAgent, readyAgentJvm } from './sources/agent.js';
import { PreparedGet } from './sources/http-get.js';
import { armProcess, commandPlan, jvmToolPlan, kubectlPlan, sshPlan, type JvmTool } from './sources/process.js';
import type { ArmedSource } from './sources/types.js';
import { splitRemoteSpec } from './targets.js';
import type { DiscoveryContext } from './jvm/discovery.js';
import { ProcFs } from './jvm/procfs.js';
import { TaskCpuSampler } from './jvm/task-cpu.js';

/** How local JVMs are dumped: the attach protocol, a JDK tool, or attach with a tool as fallback. */
export type JvmMethod = 'auto' | 'attach' | 'jcmd' | 'jstack';
export const JVM_METHODS: readonly JvmMethod[] = ['auto', 'attach', 'jcmd', 'jstack'];

export interface RunnerContext {
  jvmMethod: JvmMethod;
  /** jcmd/jstack for the tool methods and the fallback; null when none was found. */
  jvmTool: JvmTool | null;
  /** Extra request headers for URL and agent targets (Authorization). */
  headers: Record<string, string>;
  timeoutMs: number;
  maxBytes: number;
  threadCpu: boolean;
  socketWaitMs?: number;
  discovery?: DiscoveryContext;
  /** A JVM for a --jvm-match target whose process is gone (a restart), if one matches now. */
  relocate?: (target: BundleTarget, currentPid: number) => number | undefined;
}

/** A capture that could not even be armed, with the method it would have used. */
export class ArmError extends Error {
  override name = 'ArmError';
  constructor(
    message: string,
    readonly method: CaptureMethod,
  ) {
    super(message);
  }
}

export interface Armed {
  source: ArmedSource;
  /** Read at the instant, beside the dump (local JVMs). */
  cpu?: TaskCpuSampler;
  pid?: number;
}

export interface TargetRunner {
  readonly target: BundleTarget;
  /** A capture of this target is running (armed and not yet finished). */
  busy: boolean;
  /** Work needed before arming (an attach handshake), or undefined when ready. Never rejects. */
  setup(): Promise<void> | undefined;
  /** Arms a capture for the instant atMs; throws ArmError with the reason when it cannot. */
  arm(atMs: number): Armed;
  /** Why the last set-up failed, if it did. */
  problem(): string | undefined;
  close(): void;
}

export function createRunner(target: BundleTarget, ctx: RunnerContext): TargetRunner {
  switch (target.kind) {
    case 'jvm':
      return new JvmRunner(target, ctx);
    case 'url':
      return simpleRunner(target, 'http', () => new PreparedGet(new URL(target.spec), ctx.headers));
    case 'cmd':
      return simpleRunner(target, 'cmd', () => armProcess(commandPlan(target.spec)));
    case 'ssh':
    case 'kubectl': {
      const r = splitRemoteSpec(target.spec);
      if (r === undefined) throw new Error(`target '${target.name}': bad ${target.kind} spec '${target.spec}'`);
      const plan = target.kind === 'ssh' ? sshPlan(r.where, r.pid) : kubectlPlan(r.where, r.pid);
      return simpleRunner(target, 'cmd', () => armProcess(plan));
    }
    case 'agent':
      return agentRunner(target, ctx);
  }
}

function simpleRunner(target: BundleTarget, method: CaptureMethod, make: (atMs: number) => ArmedSource): TargetRunner {
  return {
    target,
    busy: false,
    setup: () => undefined,
    problem: () => undefined,
    arm: (atMs) => {
      try {
        return { source: make(atMs) };
      } catch (err) {
        throw new ArmError((err as Error).message, method);
      }
    },
    close: () => undefined,
  };
}

/** A JVM behind an agent: asked once to get ready (its attach listener) before the first round. */
function agentRunner(target: BundleTarget, ctx: RunnerContext): TargetRunner {
  let readied = false;
  let lastError: string | undefined;
  const options = { headers: ctx.headers, timeoutMs: ctx.timeoutMs, maxBytes: ctx.maxBytes };
  const runner = simpleRunner(target, 'agent', (atMs) => new ArmedAgent(target.spec, atMs, options));
  runner.setup = () => {
    if (readied) return undefined;
    readied = true;
    return readyAgentJvm(target.spec, ctx.headers, ctx.timeoutMs).then(
      (error) => void (lastError = error),
      (err: Error) => void (lastError = err.message),
    );
  };
  runner.problem = () => lastError;
  return runner;
}

/**
 * A local JVM. With the attach methods its listener is started once and reused; a failure that a
 * JDK tool might overcome (not Linux, OpenJ9, no socket after SIGQUIT) switches `auto` to the tool
 * for good. A failure that will not change by itself in a round (no socket after SIGQUIT) is not
 * retried — each retry would signal the JVM again — unless the process is replaced.
 */
class JvmRunner implements TargetRunner {
  busy = false;
  private pid: number;
  private mode: 'attach' | 'tool';
  private attach: HotSpotAttach;
  private sampler: TaskCpuSampler | undefined;
  private setupRun: Promise<void> | undefined;
  private lastError: string | undefined;
  /** A failure that retrying would only repeat (and re-signal). */
  private sticky = false;
  private readonly proc: ProcFs;

  constructor(
    readonly target: BundleTarget,
    private readonly ctx: RunnerContext,
  ) {
    this.pid = Number(target.spec);
    this.proc = ctx.discovery?.proc ?? new ProcFs();
    const platform = ctx.discovery?.platform ?? process.platform;
    this.mode =
      ctx.jvmMethod === 'jcmd' || ctx.jvmMethod === 'jstack' || (ctx.jvmMethod === 'auto' && platform !== 'linux')
        ? 'tool'
        : 'attach';
    this.attach = this.newSession();
  }

  setup(): Promise<void> | undefined {
    this.followRestart();
    if (this.mode !== 'attach' || this.sticky || this.attach.isReady()) return undefined;
    this.setupRun ??= this.attach
      .ready()
      .then(
        () => {
          this.lastError = undefined;
        },
        (err: Error) => {
          const fallback = err instanceof AttachError && err.fallback;
          if (fallback && this.ctx.jvmMethod === 'auto' && this.ctx.jvmTool !== null) {
            this.mode = 'tool';
            return;
          }
          this.lastError = err.message;
          this.sticky = fallback; // e.g. no socket after SIGQUIT: do not signal again every round
        },
      )
      .finally(() => (this.setupRun = undefined));
    return this.setupRun;
  }

  arm(): Armed {
    let source: ArmedSource;
    if (this.mode === 'attach') {
      if (!this.attach.isReady()) {
        throw new ArmError(
          this.lastError ?? (this.setupRun !== undefined ? 'attach listener not ready at the instant' : 'not attached'),
          'attach',
        );
      }
      source = this.attach.arm();
    } else {
      const tool = this.ctx.jvmTool;
      const method: CaptureMethod = this.ctx.jvmMethod === 'jstack' ? 'jstack' : 'jcmd';
      if (tool === null) throw new ArmError('neither jcmd nor jstack was found (set JAVA_HOME or PATH)', method);
      source = armProcess(jvmToolPlan(tool, String(this.pid)));
    }
    return { source, pid: this.pid, ...this.cpuSampler() };
  }

  problem(): string | undefined {
    return this.mode === 'attach' ? this.lastError : undefined;
  }

  close(): void {
    this.sampler?.close();
  }

  private newSession(): HotSpotAttach {
    return new HotSpotAttach(this.pid, {
      ...(this.ctx.socketWaitMs !== undefined ? { socketWaitMs: this.ctx.socketWaitMs } : {}),
      ...(this.ctx.discovery !== undefined ? { discovery: this.ctx.discovery } : {}),
    });
  }

  private cpuSampler(): { cpu?: TaskCpuSampler } {
    if (!this.ctx.threadCpu) return {};
    if (this.sampler === undefined) {
      const nsPid = this.attach.jvm?.nsPid ?? this.proc.status(this.pid)?.nsPid;
      if (nsPid === undefined) return {};
      this.sampler = new TaskCpuSampler(this.pid, nsPid, this.proc);
    }
    return this.sampler.refresh() ? { cpu: this.sampler } : {};
  }

  /** A --jvm-match target whose JVM is gone follows a JVM that matches now (a restart). */
  private followRestart(): void {
    if (this.target.match === undefined || this.ctx.relocate === undefined) return;
    const start = this.proc.startTicks(this.pid);
    const seen = this.attach.jvm?.startTicks;
    if (start !== undefined && (seen === undefined || start === seen)) return;
    const next = this.ctx.relocate(this.target, this.pid);
    if (next === undefined || next === this.pid) return;
    this.pid = next;
    this.sampler?.close();
    this.sampler = undefined;
    this.attach = this.newSession();
    this.sticky = false;
    this.lastError = undefined;
    if (
      this.ctx.jvmMethod === 'auto' &&
      this.mode === 'tool' &&
      (this.ctx.discovery?.platform ?? process.platform) === 'linux'
    ) {
      this.mode = 'attach';
    }
  }
}
