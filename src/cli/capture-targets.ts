// The target flags shared by `rollcall capture` and `rollcall watch` — which processes to dump and
// how — and turning them into concrete targets and Capturer options. One definition, so the two
// commands accept exactly the same targets.
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import {
  DEFAULT_CAPTURE_TIMEOUT_MS,
  JVM_METHODS,
  MAX_TARGETS_FILE_BYTES,
  parseTargetsText,
  resolveTargets,
  ResolveError,
  type CapturerOptions,
  type JvmMethod,
  type TargetSpec,
} from '../capture/index.js';
import { DEFAULT_SOCKET_WAIT_MS } from '../capture/sources/attach.js';
import { adminToken, readSecretFile, NodeConfigError } from '../runtime/secrets.js';
import { UsageError } from './errors.js';
import { choiceOption, collect, intOption, parseNamed } from './options.js';

export interface TargetFlags {
  url?: string[];
  jvm?: string[];
  jvmMatch?: string[];
  jvmMethod: JvmMethod;
  cmd?: string[];
  agent?: string[];
  ssh?: string[];
  kubectl?: string[];
  local?: boolean;
  secretFile?: string;
  targets?: string;
  /** Undefined only where the command has no default (watch: derived from its interval). */
  timeoutMs?: number;
  attachTimeoutMs: number;
  threadCpu: boolean;
}

/**
 * Adds the target flags (and how captures are taken) to a command. `timeoutHelp` replaces the
 * capture timeout's fixed default with a described one the command computes.
 */
export function addTargetOptions(cmd: Command, timeoutHelp?: string): Command {
  const timeout = new Option(
    '--timeout-ms <MS>',
    `cut off a capture slower than this and record it as an error${timeoutHelp !== undefined ? ` (default: ${timeoutHelp})` : ''}`,
  ).argParser(intOption('--timeout-ms', 1, 3_600_000));
  return cmd
    .option(
      '--url <NAME=URL>',
      'GET a dump over HTTP (HBase/Hadoop /stacks, rollcall admin /stacks); repeatable',
      collect,
    )
    .option('--jvm <NAME=PID>', 'a local JVM by pid; repeatable', collect)
    .option(
      '--jvm-match <REGEX|NAME=REGEX>',
      'every JVM whose main class or command line matches (local, or on the --agent/--ssh/--kubectl hosts); node <MainClass>-<pid>, or NAME; repeatable',
      collect,
    )
    .addOption(
      new Option(
        '--jvm-method <METHOD>',
        'how local JVMs are dumped: the HotSpot attach protocol, jcmd, jstack, or auto',
      )
        .default('auto')
        .argParser(choiceOption('--jvm-method', JVM_METHODS)),
    )
    .option('--cmd <NAME=COMMAND>', 'a shell command that prints a dump; repeatable', collect)
    .option('--agent <NAME=URL>', "a `rollcall agent` serving a host's JVMs (http://HOST:PORT); repeatable", collect)
    .option('--ssh <[NAME=]HOST[:PID]>', 'JVMs on HOST, dumped by jcmd through ssh; repeatable', collect)
    .option(
      '--kubectl <[NAME=]POD[@NAMESPACE][:PID]>',
      'JVMs in a pod, dumped by jcmd through kubectl exec; repeatable',
      collect,
    )
    .option('--local', "with --agent/--ssh/--kubectl, match --jvm-match against this host's JVMs too")
    .option('--secret-file <FILE>', 'the cluster secret: authenticates to agents and admin URLs (Bearer token)')
    .option('--targets <FILE>', 'read targets from FILE (format below)')
    .addOption(timeoutHelp !== undefined ? timeout : timeout.default(DEFAULT_CAPTURE_TIMEOUT_MS))
    .option(
      '--attach-timeout-ms <MS>',
      'how long a JVM may take to start its attach listener after SIGQUIT',
      intOption('--attach-timeout-ms', 1, 600_000),
      DEFAULT_SOCKET_WAIT_MS,
    )
    .option('--no-thread-cpu', 'do not read per-thread CPU of local JVMs from /proc');
}

export interface ResolvedTargets {
  targets: TargetSpec[];
  /** How to capture them: headers (the Bearer token), timeouts, JVM method, per-thread CPU. */
  capturer: CapturerOptions;
  /** Things worth saying that do not stop the command (an agent with no matching JVM). */
  notes: string[];
}

/**
 * The targets the flags name — --url, --jvm, --cmd and --targets as given, --jvm-match and the
 * remote hosts resolved to JVMs — with the options to capture them. Bad flags, an unreadable
 * secret or targets file, and patterns that match nothing are UsageErrors.
 */
export async function resolveTargetFlags(flags: TargetFlags): Promise<ResolvedTargets> {
  const headers: Record<string, string> = {};
  if (flags.secretFile !== undefined) {
    try {
      headers['Authorization'] = `Bearer ${adminToken(readSecretFile(flags.secretFile))}`;
    } catch (err) {
      if (err instanceof NodeConfigError) throw new UsageError(err.message);
      throw err;
    }
  }
  const explicit: TargetSpec[] = [
    ...(flags.url ?? []).map((v) => named('--url', v, 'url')),
    ...(flags.jvm ?? []).map((v) => named('--jvm', v, 'jvm')),
    ...(flags.cmd ?? []).map((v) => named('--cmd', v, 'cmd')),
  ];
  if (flags.targets !== undefined) explicit.push(...(await readTargets(flags.targets)));
  const agents = (flags.agent ?? []).map((v) => {
    const { name, value } = namedValue('--agent', v);
    return { name, url: value };
  });
  try {
    const resolved = await resolveTargets({
      explicit,
      jvmMatch: flags.jvmMatch ?? [],
      agents,
      ssh: flags.ssh ?? [],
      kubectl: flags.kubectl ?? [],
      local: flags.local === true,
      headers,
    });
    return {
      targets: resolved.targets,
      notes: resolved.notes,
      capturer: {
        ...(flags.timeoutMs !== undefined ? { timeoutMs: flags.timeoutMs } : {}),
        socketWaitMs: flags.attachTimeoutMs,
        jvmMethod: flags.jvmMethod,
        threadCpu: flags.threadCpu && process.platform === 'linux',
        headers,
      },
    };
  } catch (err) {
    if (err instanceof ResolveError) throw new UsageError(err.message);
    throw err;
  }
}

/** NAME=VALUE of a flag, as a usage error (exit 2 with the message) when malformed. */
function namedValue(flag: string, v: string): { name: string; value: string } {
  try {
    return parseNamed(flag, v);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function named(flag: string, v: string, kind: TargetSpec['kind']): TargetSpec {
  const { name, value } = namedValue(flag, v);
  return { name, kind, spec: value };
}

async function readTargets(path: string): Promise<TargetSpec[]> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.byteLength > MAX_TARGETS_FILE_BYTES) throw new Error(`over ${MAX_TARGETS_FILE_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (err) {
    throw new UsageError(`cannot read --targets ${path}: ${(err as Error).message}`);
  }
  try {
    return parseTargetsText(text, path);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
