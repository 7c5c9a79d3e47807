// The HotSpot attach protocol on Linux, spoken directly (what jcmd does, without starting a JVM):
//
//   1. If the JVM's attach listener is not running (no UNIX socket /tmp/.java_pid<nspid> in the
//      JVM's mount namespace, reached here through /proc/<pid>/root/tmp), create the trigger file
//      .attach_pid<nspid> in its working directory (or its /tmp), send SIGQUIT, and wait — bounded —
//      for the socket. The JVM's SIGQUIT handler sees the file and starts the listener instead of
//      printing a thread dump. The listener then stays up, so this happens once per JVM.
//   2. Per dump: connect, write `1\0jcmd\0Thread.print -l\0\0\0` (protocol version, command, three
//      arguments), read a status line (`0` on success) and then the command's output to EOF. The
//      listener serves one command per connection, so the socket cannot be reused across rounds;
//      instead each round's connection is opened ahead of the instant, and the listener waits in
//      its read, so at the instant a dump costs one write.
//
// SIGQUIT ends any process that does not handle it, so it is only ever sent to a process that
// discovery proved to be a HotSpot JVM (libjvm.so mapped), that has a SIGQUIT handler installed
// (SigCgt), and whose start time is still the one seen then (the pid was not reused).
import { chownSync, closeSync, constants, lstatSync, openSync, unlinkSync, type Stats } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { epochNowMs } from '../clock.js';
import { inspectJvm, NotAJvmError, type DiscoveryContext, type JvmInfo } from '../jvm/discovery.js';
import { ProcFs } from '../jvm/procfs.js';
import type { ArmedSource, SourceOutcome } from './types.js';

/** The jcmd request for a thread dump with locked synchronizers. */
export const THREAD_PRINT_REQUEST = Buffer.from('1\0jcmd\0Thread.print -l\0\0\0', 'latin1');
/** How long a JVM may take to start its attach listener after SIGQUIT (the JDK allows 10 s). */
export const DEFAULT_SOCKET_WAIT_MS = 5000;
const SOCKET_POLL_MS = 5;
/** Longest status line accepted before the output. */
const MAX_STATUS_LINE_BYTES = 64;
/** Longest error text kept from a failed command's output. */
const MAX_ERROR_CHARS = 500;

/** Attach is impossible for this target, for a stated reason (recorded per capture). */
export class AttachError extends Error {
  override name = 'AttachError';
  /** true when jcmd/jstack might still succeed (e.g. not Linux, OpenJ9, no socket appeared). */
  constructor(
    message: string,
    readonly fallback: boolean,
  ) {
    super(message);
  }
}

export interface AttachOptions {
  socketWaitMs?: number;
  discovery?: DiscoveryContext;
}

/** One JVM's attach listener, across rounds. */
export class HotSpotAttach {
  private info: JvmInfo | undefined;
  private readying: Promise<void> | undefined;
  private readonly proc: ProcFs;
  private readonly euid: number;

  constructor(
    readonly pid: number,
    private readonly options: AttachOptions = {},
  ) {
    this.proc = options.discovery?.proc ?? new ProcFs();
    this.euid = options.discovery?.euid ?? process.geteuid?.() ?? -1;
  }

  /** The JVM as last inspected. */
  get jvm(): JvmInfo | undefined {
    return this.info;
  }

  /** True when the listener's socket is known and the process is the one inspected. */
  isReady(): boolean {
    return this.info !== undefined && this.readying === undefined && this.sameProcess() && this.socketOk();
  }

  /**
   * Makes sure the attach listener runs (inspecting the JVM, and signalling it once if needed).
   * Rejects with AttachError naming why not. Concurrent calls share one attempt.
   */
  ready(): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    this.readying ??= this.makeReady().finally(() => (this.readying = undefined));
    return this.readying;
  }

  /** Opens a connection now; the request goes out on fire(). Call when ready. */
  arm(): ArmedSource {
    if (this.info === undefined) throw new AttachError('attach session not ready', false);
    return new ArmedAttach(this.info.socketPath, this.pid, () => this.exited());
  }

  private exited(): boolean {
    return !this.sameProcess();
  }

  private sameProcess(): boolean {
    const start = this.proc.startTicks(this.pid);
    return start !== undefined && (this.info?.startTicks === undefined || start === this.info.startTicks);
  }

  private socketOk(): boolean {
    return (
      this.info !== undefined && socketProblem(lstatOrUndefined(this.info.socketPath), this.info, this.euid) === ''
    );
  }

  private async makeReady(): Promise<void> {
    let info: JvmInfo;
    try {
      info = inspectJvm(this.pid, this.options.discovery);
    } catch (err) {
      if (err instanceof NotAJvmError) {
        throw new AttachError(err.message, /Linux/.test(err.message));
      }
      throw err;
    }
    if (!info.attachable) {
      throw new AttachError(info.reason ?? 'not attachable', info.kind === 'openj9' || /Linux/.test(info.reason ?? ''));
    }
    this.info = info;
    let st = lstatOrUndefined(info.socketPath);
    if (st === undefined) {
      await this.startListener(info);
      st = lstatOrUndefined(info.socketPath);
    }
    const problem = socketProblem(st, info, this.euid);
    if (problem !== '') throw new AttachError(problem, false);
  }

  /** Trigger file, SIGQUIT, bounded wait for the socket; the trigger file is always removed. */
  private async startListener(info: JvmInfo): Promise<void> {
    const trigger = this.createTrigger(info);
    try {
      // Re-checked right before the signal: the process must still be the JVM inspected, with its
      // SIGQUIT handler installed.
      const status = this.proc.status(this.pid);
      if (!this.sameProcess() || status === undefined) {
        throw new AttachError(`process ${this.pid} exited`, false);
      }
      if (!status.catchesQuit || status.ignoresQuit) {
        throw new AttachError(
          'the JVM does not handle SIGQUIT (started with -Xrs, or still starting): not signalled',
          false,
        );
      }
      try {
        process.kill(this.pid, 'SIGQUIT');
      } catch (err) {
        throw new AttachError(`cannot signal pid ${this.pid}: ${(err as NodeJS.ErrnoException).code ?? err}`, false);
      }
      const waitMs = this.options.socketWaitMs ?? DEFAULT_SOCKET_WAIT_MS;
      const deadline = epochNowMs() + waitMs;
      while (lstatOrUndefined(info.socketPath) === undefined) {
        if (!this.sameProcess()) throw new AttachError(`process ${this.pid} exited while attaching`, false);
        if (epochNowMs() > deadline) {
          throw new AttachError(
            `no attach socket ${info.socketPath} ${waitMs} ms after SIGQUIT: the JVM did not start its attach listener`,
            true,
          );
        }
        // A referenced timer: this wait must keep the process alive.
        await new Promise((r) => setTimeout(r, SOCKET_POLL_MS));
      }
    } finally {
      try {
        unlinkSync(trigger);
      } catch {
        /* already gone */
      }
    }
  }

  /** `.attach_pid<nspid>` in the JVM's working directory, else in its /tmp (as the JDK does). */
  private createTrigger(info: JvmInfo): string {
    const name = `.attach_pid${info.nsPid}`;
    const candidates = [join(this.proc.cwdDir(this.pid), name), join(this.proc.tmpDir(this.pid), name)];
    let lastError = '';
    for (const path of candidates) {
      try {
        closeSync(openSync(path, constants.O_CREAT | constants.O_WRONLY, 0o600));
        // JDK 8 only honours a trigger file owned by its own user; root gives it away.
        if (this.euid === 0 && info.uid !== 0) {
          try {
            chownSync(path, info.uid, this.proc.status(this.pid)?.gid ?? info.uid);
          } catch {
            /* newer JDKs accept root's file */
          }
        }
        return path;
      } catch (err) {
        lastError = (err as NodeJS.ErrnoException).code ?? String(err);
      }
    }
    throw new AttachError(`cannot create the attach trigger file for pid ${this.pid} (${lastError})`, false);
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * '' when the socket is the JVM's: a socket, owned by the JVM's user (or by us), private to its
 * owner. Anyone can create a file in /tmp; a dump read from someone else's socket is not evidence.
 */
function socketProblem(st: Stats | undefined, info: JvmInfo, euid: number): string {
  if (st === undefined) return `no attach socket at ${info.socketPath}`;
  if (!st.isSocket()) return `${info.socketPath} is not a socket`;
  if (st.uid !== info.uid && st.uid !== euid) {
    return `${info.socketPath} is owned by uid ${st.uid}, not by the JVM's user ${info.uid}: refusing it`;
  }
  if ((st.mode & 0o077) !== 0) {
    return `${info.socketPath} is accessible to other users (mode ${(st.mode & 0o777).toString(8)}): refusing it`;
  }
  return '';
}

/** One dump over one attach connection. */
class ArmedAttach implements ArmedSource {
  readonly method = 'attach' as const;
  readonly stream: Promise<Readable>;
  readonly done: Promise<SourceOutcome>;
  requestedAtMs: number | undefined;
  firstByteAtMs: number | undefined;
  private readonly socket: net.Socket;
  private readonly out = new PassThrough();
  private connected = false;
  private fired = false;
  private settled = false;
  private statusLine = '';
  private status: number | undefined;
  private errorText = '';
  private settle!: (o: SourceOutcome) => void;
  private resolveStream!: (r: Readable) => void;
  private rejectStream!: (e: Error) => void;

  constructor(
    socketPath: string,
    private readonly pid: number,
    private readonly exited: () => boolean,
  ) {
    this.done = new Promise((r) => (this.settle = r));
    this.stream = new Promise((res, rej) => {
      this.resolveStream = res;
      this.rejectStream = rej;
    });
    this.stream.catch(() => undefined);
    this.socket = net.connect(socketPath, () => {
      this.connected = true;
      if (this.fired) this.send();
    });
    this.socket.on('data', (b: Buffer) => this.onData(b));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.describeError(err)));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.onEnd());
  }

  fire(): void {
    this.fired = true;
    if (this.connected) this.send();
  }

  kill(): void {
    this.fail('cancelled');
    this.socket.destroy();
  }

  private send(): void {
    this.requestedAtMs = epochNowMs();
    this.socket.write(THREAD_PRINT_REQUEST);
  }

  private describeError(err: NodeJS.ErrnoException): string {
    if (this.exited()) return `process ${this.pid} exited`;
    if (err.code === 'ECONNREFUSED')
      return 'the attach socket refused the connection (its JVM is gone: stale socket file)';
    return `attach: ${err.code ? `${err.code}: ` : ''}${err.message}`;
  }

  private onData(b: Buffer): void {
    this.firstByteAtMs ??= epochNowMs();
    if (this.settled) return;
    let rest = b;
    if (this.status === undefined) {
      const nl = b.indexOf(10);
      this.statusLine += b.toString('latin1', 0, nl < 0 ? b.length : nl);
      if (nl < 0) {
        if (this.statusLine.length > MAX_STATUS_LINE_BYTES) this.fail('attach: not an attach listener answer');
        return;
      }
      const code = Number(this.statusLine.trim());
      if (!Number.isInteger(code)) return this.fail(`attach: unexpected answer '${this.statusLine.slice(0, 40)}'`);
      this.status = code;
      rest = b.subarray(nl + 1);
      if (code === 0) {
        // As jcmd prints it: the output starts with `<pid>:`, so the file names its process.
        this.out.write(`${this.pid}:\n`);
        this.resolveStream(this.out);
      }
    }
    if (this.status !== 0) {
      if (this.errorText.length < MAX_ERROR_CHARS) this.errorText += rest.toString('utf8');
      return;
    }
    if (rest.length > 0) this.out.write(rest);
  }

  private onEnd(): void {
    if (this.settled) return;
    if (this.status === undefined) {
      return this.fail(
        this.exited()
          ? `process ${this.pid} exited`
          : 'the JVM closed the attach connection without answering (a JDK 8 JVM accepts only its own user)',
      );
    }
    if (this.status !== 0) {
      const text = this.errorText.trim().split('\n')[0]?.slice(0, MAX_ERROR_CHARS) ?? '';
      return this.fail(`attach: the JVM answered status ${this.status}${text ? `: ${text}` : ''}`, this.status);
    }
    this.settled = true;
    this.out.end();
    this.settle({ status: 0 });
  }

  private fail(message: string, status?: number): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectStream(new Error(message));
    this.out.destroy();
    this.socket.destroy();
    this.settle({ error: message, ...(status !== undefined ? { status } : {}) });
  }
}
