// Capture targets from a file (`rollcall capture --targets FILE`), in either of two forms:
//
//   Lines, one target each, the flag name then NAME=VALUE as on the command line:
//     # comments and blank lines are ignored
//     url master=http://127.0.0.1:16010/stacks
//     jvm rs1=12345
//     cmd rs2=ssh rs2 'jcmd $(pgrep -f HRegionServer) Thread.print -l'
//
//   JSON, an array (or {"targets": [...]}) of objects with a name and one of url, jvm, cmd (or
//   agent, ssh, kubectl):
//     [{"name": "master", "url": "http://127.0.0.1:16010/stacks"}, {"name": "rs1", "jvm": 12345}]
//   ({"name", "kind", "spec"} objects, as in a bundle manifest, are accepted too.)
//
// This module also owns what a target is (TargetSpec) and checking one.
import { TARGET_KINDS, type TargetKind } from '../dumps/bundle.js';

export const MAX_TARGETS_FILE_BYTES = 4 * 1024 * 1024;

export interface TargetSpec {
  name: string;
  kind: TargetKind;
  /**
   * url: the URL; jvm: the pid; cmd: a shell command; agent: the JVM's URL on its agent
   * (`http://host:port/jvms/<pid>`); ssh: `HOST:PID`; kubectl: `POD[@NAMESPACE]:PID`.
   */
  spec: string;
  /** JVMs found by --jvm-match: the pattern (a target named by it follows a restarted JVM). */
  match?: string;
  mainClass?: string;
}

export const TARGETS_FILE_HELP = `A targets file lists one target per line as 'KIND NAME=VALUE' with KIND url, jvm,
cmd, agent (http://HOST:PORT/jvms/PID), ssh (HOST:PID) or kubectl (POD[@NAMESPACE]:PID); '#' starts
a comment, e.g.
  url master=http://127.0.0.1:16010/stacks
  jvm rs1=12345
  cmd rs2=ssh rs2 jcmd 4242 Thread.print -l
or is JSON: [{"name":"master","url":"http://..."},{"name":"rs1","jvm":12345},{"name":"rs2","cmd":"..."}]`;

const KINDS = TARGET_KINDS;

/** `HOST:PID` (ssh) or `POD[@NS]:PID` (kubectl) → where and which pid; undefined when malformed. */
export function splitRemoteSpec(spec: string): { where: string; pid: string } | undefined {
  const i = spec.lastIndexOf(':');
  if (i <= 0 || !/^\d+$/.test(spec.slice(i + 1))) return undefined;
  return { where: spec.slice(0, i), pid: spec.slice(i + 1) };
}

/** A readable problem with one target, or undefined. */
export function targetProblem(t: TargetSpec): string | undefined {
  if (t.name.length === 0) return 'a target has an empty name';
  const at = `target '${t.name}'`;
  switch (t.kind) {
    case 'url':
    case 'agent': {
      let u: URL;
      try {
        u = new URL(t.spec);
      } catch {
        return `${at}: '${t.spec}' is not a URL`;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${at}: only http and https URLs`;
      if (t.kind === 'agent' && !/\/jvms\/\d+$/.test(u.pathname)) {
        return `${at}: an agent target is http://HOST:PORT/jvms/PID, not '${t.spec}'`;
      }
      return undefined;
    }
    case 'jvm':
      return /^\d+$/.test(t.spec) ? undefined : `${at}: a JVM is given by its pid, not '${t.spec}'`;
    case 'ssh':
    case 'kubectl': {
      const r = splitRemoteSpec(t.spec);
      if (r === undefined)
        return `${at}: expected ${t.kind === 'ssh' ? 'HOST:PID' : 'POD[@NAMESPACE]:PID'}, not '${t.spec}'`;
      // Host and pod names go to ssh/kubectl as arguments: no option-like or odd names.
      if (!/^[A-Za-z0-9_.@[\]:-]+$/.test(r.where) || r.where.startsWith('-')) {
        return `${at}: '${r.where}' is not a host or pod name`;
      }
      return undefined;
    }
    case 'cmd':
      return t.spec.trim().length === 0 ? `${at}: empty command` : undefined;
  }
}

/** Parses a targets file; throws an Error naming the line (or JSON entry) at fault. */
export function parseTargetsText(text: string, source = 'targets file'): TargetSpec[] {
  if (text.length > MAX_TARGETS_FILE_BYTES) throw new Error(`${source}: over ${MAX_TARGETS_FILE_BYTES} bytes`);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return parseJsonTargets(text, source);
  const out: TargetSpec[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) return;
    const sp = line.search(/\s/);
    const kind = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp).trim();
    const eq = rest.indexOf('=');
    if (!(KINDS as readonly string[]).includes(kind) || eq <= 0 || eq === rest.length - 1) {
      throw new Error(`${source}:${i + 1}: expected '${KINDS.join('|')} NAME=VALUE', not '${line}'`);
    }
    out.push({ kind: kind as TargetKind, name: rest.slice(0, eq), spec: rest.slice(eq + 1) });
  });
  return out;
}

function parseJsonTargets(text: string, source: string): TargetSpec[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const list =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as { targets?: unknown }).targets
      : value;
  if (!Array.isArray(list)) throw new Error(`${source}: expected an array of targets or {"targets": [...]}`);
  return list.map((entry: unknown, i): TargetSpec => {
    const where = `${source}: target #${i + 1}`;
    if (typeof entry !== 'object' || entry === null) throw new Error(`${where} is not an object`);
    const e = entry as Record<string, unknown>;
    if (typeof e.name !== 'string' || e.name.length === 0) throw new Error(`${where} has no "name"`);
    if (typeof e.kind === 'string' && (KINDS as readonly string[]).includes(e.kind)) {
      if (typeof e.spec !== 'string' && typeof e.spec !== 'number') throw new Error(`${where} has no "spec"`);
      return { name: e.name, kind: e.kind as TargetKind, spec: String(e.spec) };
    }
    const kinds = KINDS.filter((k) => e[k] !== undefined);
    if (kinds.length !== 1) throw new Error(`${where} needs exactly one of ${KINDS.map((k) => `"${k}"`).join(', ')}`);
    const kind = kinds[0]!;
    const v = e[kind];
    if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${where}: "${kind}" must be a string`);
    return { name: e.name, kind, spec: String(v) };
  });
}
