// Following a thread through the samples of one process: by Java id (`#N`, `id=N`, `Thread N`),
// else the JVM thread pointer (tid), else the native id (nid), else the name. Names are not unique
// (two "DeadlockThread-A" in one JVM), so a key seen twice in one dump gets an occurrence suffix;
// the same position among equal keys then maps to the same track in the next sample.
import type { ThreadDump } from '../dumps/model.js';

/** Bound on the Java-id keys kept for reuse; past it keys are built each time. */
const MAX_CACHED_ID_KEYS = 1 << 20;
/**
 * `#N` for each Java id seen: the same string object every sample, so its hash is computed once
 * for all the map and set lookups of every round, not once per thread per round.
 */
const idKeys = new Map<number, string>();

export function identityKey(t: ThreadDump): string {
  const id = t.javaId;
  if (id !== undefined) {
    let key = idKeys.get(id);
    if (key === undefined) {
      key = `#${id}`;
      if (idKeys.size < MAX_CACHED_ID_KEYS) idKeys.set(id, key);
    }
    return key;
  }
  if (t.tid !== undefined && t.tid.length > 0 && !/^0x0+$/.test(t.tid)) return `t${t.tid}`;
  if (t.nid !== undefined && t.nid !== '') return `n${t.nid}`;
  return `"${t.name}`;
}

/**
 * For each key, the identityKeys call that saw it last: a key seen twice in one dump is found
 * without a set per dump (every sample of every node would build one). Cleared when large.
 */
const lastSeen = new Map<string, number>();
const MAX_LAST_SEEN = 1 << 16;
let calls = 0;

/** Keys for every thread of one dump, unique within it. */
export function identityKeys(threads: readonly ThreadDump[]): string[] {
  if (lastSeen.size > MAX_LAST_SEEN) lastSeen.clear();
  const call = ++calls;
  const keys = new Array<string>(threads.length);
  let seen: Map<string, number> | undefined;
  for (let i = 0; i < threads.length; i++) {
    let key = identityKey(threads[i]!);
    if (lastSeen.get(key) === call) {
      seen ??= new Map();
      const n = (seen.get(key) ?? 1) + 1;
      seen.set(key, n);
      key = `${key}~${n}`;
    } else lastSeen.set(key, call);
    keys[i] = key;
  }
  return keys;
}
