// From what the user asked for to concrete targets: --jvm-match patterns against this host's JVMs,
// and against the JVMs of remote hosts — an agent's GET /jvms, or `jcmd -l` run through ssh or
// kubectl exec. Explicit targets (--url, --jvm, --cmd, --targets) pass through unchanged.
//
// Naming: a JVM found by REGEX is the node `<MainClass>-<pid>` (`HMaster-4242`); one found by
// NAME=REGEX is `NAME` (or `NAME-<pid>` when several match); on a remote host `@<host>` follows
// (`HMaster-4242@rs1`). A pattern matches the main class or the whole command line.
import { kubectlTarget, runToCompletion } from './sources/process.js';
import { listAgentJvms } from './sources/agent.js';
import {
  listJvms,
  matchJvms,
  parseJvmMatcher,
  type DiscoveryContext,
  type JvmInfo,
  type JvmMatcher,
} from './jvm/discovery.js';
import type { TargetSpec } from './targets.js';

/** Bound on how long listing a remote host's JVMs may take. */
export const REMOTE_LIST_TIMEOUT_MS = 20_000;
const MAX_REMOTE_LIST_BYTES = 1024 * 1024;
const JCMD_SELF = /(^|[/.])JCmd$/;

export interface TargetRequest {
  /** --url, --jvm, --cmd and --targets entries. */
  explicit: TargetSpec[];
  /** --jvm-match values: REGEX or NAME=REGEX. */
  jvmMatch: string[];
  /** --agent NAME=URL. */
  agents: { name: string; url: string }[];
  /** --ssh [NAME=]HOST[:PID]. */
  ssh: string[];
  /** --kubectl [NAME=]POD[@NAMESPACE][:PID]. */
  kubectl: string[];
  /** Match this host's JVMs too when remote hosts are given. */
  local?: boolean;
  headers?: Record<string, string>;
  discovery?: DiscoveryContext;
}

/** Something the user asked for that cannot be resolved: reported as bad usage. */
export class ResolveError extends Error {
  override name = 'ResolveError';
}

/** A remote `[NAME=]WHERE[:PID]` value. */
interface RemoteHost {
  name: string;
  where: string;
  pid?: string;
}

export function parseRemoteHost(flag: string, value: string): RemoteHost {
  const eq = value.indexOf('=');
  const name = eq > 0 ? value.slice(0, eq) : undefined;
  const rest = eq > 0 ? value.slice(eq + 1) : value;
  const m = /^(.*?)(?::(\d+))?$/.exec(rest);
  const where = m?.[1] ?? '';
  // Host and pod names become ssh/kubectl arguments: nothing that reads as an option.
  const okName = name === undefined || /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name);
  if (!okName || where.length === 0 || where.startsWith('-') || !/^[A-Za-z0-9_.@[\]:-]+$/.test(where)) {
    throw new ResolveError(
      `${flag} takes [NAME=]${flag === '--ssh' ? 'HOST' : 'POD[@NAMESPACE]'}[:PID], not '${value}'`,
    );
  }
  return { name: name ?? where, where, ...(m?.[2] !== undefined ? { pid: m[2] } : {}) };
}

/** `jcmd -l` output → JVMs (without jcmd itself). */
export function parseJcmdList(text: string): Pick<JvmInfo, 'pid' | 'mainClass' | 'command'>[] {
  const out: Pick<JvmInfo, 'pid' | 'mainClass' | 'command'>[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s*(.*)$/.exec(line);
    if (m === null) continue;
    const command = m[2]!.trim();
    const mainClass = command.split(/\s+/)[0] ?? '';
    if (JCMD_SELF.test(mainClass)) continue;
    out.push({ pid: Number(m[1]), mainClass, command });
  }
  return out;
}

const MATCH_ALL: JvmMatcher = { regex: /(?:)/, source: '' };

export async function resolveTargets(req: TargetRequest): Promise<{ targets: TargetSpec[]; notes: string[] }> {
  const matchers = req.jvmMatch.map((v) => {
    try {
      return parseJvmMatcher(v);
    } catch (err) {
      throw new ResolveError((err as Error).message);
    }
  });
  const targets = [...req.explicit];
  const notes: string[] = [];
  const ssh = req.ssh.map((v) => parseRemoteHost('--ssh', v));
  const kubectl = req.kubectl.map((v) => parseRemoteHost('--kubectl', v));
  const remote = req.agents.length + ssh.length + kubectl.length > 0;
  const remoteMatchers = matchers.length > 0 ? matchers : [MATCH_ALL];
  const headers = req.headers ?? {};

  if (matchers.length > 0 && (!remote || req.local === true)) {
    if ((req.discovery?.platform ?? process.platform) !== 'linux') {
      throw new ResolveError('--jvm-match finds local JVMs through /proc: Linux only (use --jvm NAME=PID)');
    }
    const jvms = listJvms(req.discovery);
    const found = matchJvms(jvms, matchers);
    if (found.length === 0) {
      const seen = jvms.map((j) => `${j.pid} ${j.mainClass || '?'}`).slice(0, 10);
      throw new ResolveError(
        `--jvm-match ${matchers.map((m) => `'${m.source}'`).join(', ')} matched no local JVM` +
          (seen.length > 0 ? ` (JVMs here: ${seen.join(', ')})` : ' (no JVM found on this host)'),
      );
    }
    for (const f of found) {
      targets.push({
        name: f.name,
        kind: 'jvm',
        spec: String(f.jvm.pid),
        ...(f.matcher.name !== undefined ? { match: f.matcher.source } : {}),
        ...(f.jvm.mainClass ? { mainClass: f.jvm.mainClass } : {}),
      });
    }
  }

  for (const a of req.agents) {
    let base: URL;
    try {
      base = new URL(a.url);
    } catch {
      throw new ResolveError(`--agent ${a.name}: '${a.url}' is not a URL`);
    }
    let list;
    try {
      list = await listAgentJvms(base, headers, REMOTE_LIST_TIMEOUT_MS);
    } catch (err) {
      throw new ResolveError(`--agent ${a.name}: ${(err as Error).message}`);
    }
    const found = matchJvms(list.jvms, remoteMatchers, `@${a.name}`);
    if (found.length === 0) notes.push(`agent ${a.name} (${list.host}): no JVM matched`);
    for (const f of found) {
      const url = new URL(`jvms/${f.jvm.pid}`, base.href.endsWith('/') ? base : new URL(`${base.href}/`));
      targets.push({
        name: f.name,
        kind: 'agent',
        spec: url.href,
        ...(f.jvm.mainClass ? { mainClass: f.jvm.mainClass } : {}),
      });
    }
  }

  for (const [kind, hosts] of [
    ['ssh', ssh],
    ['kubectl', kubectl],
  ] as const) {
    for (const h of hosts) {
      if (h.pid !== undefined) {
        targets.push({
          name: h.name === h.where ? `java-${h.pid}@${h.where}` : h.name,
          kind,
          spec: `${h.where}:${h.pid}`,
        });
        continue;
      }
      const [command, args] =
        kind === 'ssh'
          ? ['ssh', ['-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', h.where, '--', 'jcmd -l']]
          : ['kubectl', ['exec', ...kubectlTarget(h.where), '--', 'jcmd', '-l']];
      const r = await runToCompletion(command, args, REMOTE_LIST_TIMEOUT_MS, MAX_REMOTE_LIST_BYTES);
      if (r.error !== undefined)
        throw new ResolveError(`--${kind} ${h.where}: listing JVMs with jcmd -l failed: ${r.error}`);
      const found = matchJvms(parseJcmdList(r.stdout), remoteMatchers, `@${h.name}`);
      if (found.length === 0) notes.push(`${kind} ${h.where}: no JVM matched`);
      for (const f of found) {
        targets.push({
          name: f.name,
          kind,
          spec: `${h.where}:${f.jvm.pid}`,
          ...(f.jvm.mainClass ? { mainClass: f.jvm.mainClass } : {}),
        });
      }
    }
  }
  return { targets, notes };
}
