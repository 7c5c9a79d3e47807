// Capture targets from a file (`rollcall capture --targets FILE`), in either of two forms:
//
//   Lines, one target each, the flag name then NAME=VALUE as on the command line:
//     # comments and blank lines are ignored
//     url master=http://127.0.0.1:16010/stacks
//     jvm rs1=12345
//     cmd rs2=ssh rs2 'jcmd $(pgrep -f HRegionServer) Thread.print -l'
//
//   JSON, an array (or {"targets": [...]}) of objects with a name and one of url, jvm, cmd:
//     [{"name": "master", "url": "http://127.0.0.1:16010/stacks"}, {"name": "rs1", "jvm": 12345}]
//   ({"name", "kind", "spec"} objects, as in a bundle manifest, are accepted too.)
import type { TargetKind } from './bundle.js';
import type { TargetSpec } from './capture.js';

export const MAX_TARGETS_FILE_BYTES = 4 * 1024 * 1024;

export const TARGETS_FILE_HELP = `A targets file lists one target per line as 'KIND NAME=VALUE' with KIND url, jvm or
cmd ('#' starts a comment), e.g.
  url master=http://127.0.0.1:16010/stacks
  jvm rs1=12345
  cmd rs2=ssh rs2 jcmd 4242 Thread.print -l
or is JSON: [{"name":"master","url":"http://..."},{"name":"rs1","jvm":12345},{"name":"rs2","cmd":"..."}]`;

const KINDS: readonly TargetKind[] = ['url', 'jvm', 'cmd'];

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
      throw new Error(`${source}:${i + 1}: expected 'url|jvm|cmd NAME=VALUE', not '${line}'`);
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
    if (kinds.length !== 1) throw new Error(`${where} needs exactly one of "url", "jvm", "cmd"`);
    const kind = kinds[0]!;
    const v = e[kind];
    if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${where}: "${kind}" must be a string`);
    return { name: e.name, kind, spec: String(v) };
  });
}
