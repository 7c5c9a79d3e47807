// The simulated ZooKeeper's data tree: znodes with versions, ephemeral owners and sequence numbers,
// one-shot data and child watches per session, and atomic multi-operations — with ZooKeeper's rules
// for which change fires which watch (DataTree.createNode / deleteNode / setData).
import { NO_SESSION, type ZkCreateMode, type ZkErrorCode, type ZkEventType, type ZkStat } from '../../zookeeper.js';
import { assert } from '../../../util/assert.js';

/** Bound on znodes: a leak ends the run loudly instead of eating the heap. */
export const MAX_ZNODES = 2_000_000;
/** Bound on watches one session holds at once. */
export const MAX_WATCHES_PER_SESSION = 1_000_000;
const MAX_PATH_CHARS = 1_000;
const SEQUENCE_DIGITS = 10;

interface Znode {
  data: Uint8Array;
  version: number;
  cversion: number;
  /** Transaction ids of the last change to the data (creation included) and to the children. */
  mzxid: number;
  pzxid: number;
  ctimeMs: number;
  mtimeMs: number;
  ephemeralOwner: string;
  children: Set<string>;
}

/** A failed operation, with ZooKeeper's code. */
export class TreeError extends Error {
  constructor(
    readonly code: ZkErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** A watch that fired, for one session. */
export interface FiredWatch {
  sid: string;
  type: ZkEventType;
  path: string;
}

export type TreeOp =
  | { op: 'create'; path: string; data: Uint8Array; mode: ZkCreateMode }
  | { op: 'delete'; path: string; version: number }
  | { op: 'check'; path: string; version: number }
  | { op: 'set'; path: string; data: Uint8Array; version: number };

export type TreeResult = { path: string } | { stat: ZkStat } | Record<string, never>;

export class ZnodeTree {
  /** Id of the last committed write transaction (ZooKeeper's zxid). */
  zxid = 0;
  private readonly nodes = new Map<string, Znode>();
  private readonly dataWatches = new Map<string, Set<string>>();
  private readonly childWatches = new Map<string, Set<string>>();
  private readonly watchCounts = new Map<string, number>();

  constructor(private readonly wallMs: () => number) {
    this.nodes.set('/', newZnode(new Uint8Array(0), NO_SESSION, 0, 0));
  }

  get size(): number {
    return this.nodes.size;
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  stat(path: string): ZkStat | null {
    const n = this.nodes.get(path);
    return n ? statOf(n) : null;
  }

  data(path: string): Uint8Array {
    return this.node(path).data;
  }

  /** When the data and the children last changed, or null for a missing znode (for watch re-arming). */
  changes(path: string): { mzxid: number; pzxid: number } | null {
    const n = this.nodes.get(path);
    return n ? { mzxid: n.mzxid, pzxid: n.pzxid } : null;
  }

  /** Child names, sorted (ZooKeeper's order is unspecified; sorted keeps runs readable). */
  children(path: string): string[] {
    return [...this.node(path).children].sort();
  }

  /** Every znode path, sorted (for invariant checks and tests). */
  paths(): string[] {
    return [...this.nodes.keys()].sort();
  }

  /** Registers a one-shot watch: 'data' (getData, exists) or 'child' (getChildren). */
  watch(sid: string, kind: 'data' | 'child', path: string): void {
    const map = kind === 'data' ? this.dataWatches : this.childWatches;
    let set = map.get(path);
    if (!set) map.set(path, (set = new Set()));
    if (set.has(sid)) return;
    const count = (this.watchCounts.get(sid) ?? 0) + 1;
    if (count > MAX_WATCHES_PER_SESSION) {
      throw new TreeError('OTHER', path, `session ${sid} holds more than ${MAX_WATCHES_PER_SESSION} watches`);
    }
    this.watchCounts.set(sid, count);
    set.add(sid);
  }

  /** Forgets every watch of a session (it ended). */
  dropWatches(sid: string): void {
    for (const map of [this.dataWatches, this.childWatches]) {
      for (const [path, set] of map) {
        if (set.delete(sid) && set.size === 0) map.delete(path);
      }
    }
    this.watchCounts.delete(sid);
  }

  /**
   * Applies the operations atomically: all of them, or none (the first failure is thrown, and the
   * tree is as before). Returns one result per operation and the watches that fired.
   */
  apply(sid: string, ops: readonly TreeOp[]): { results: TreeResult[]; fired: FiredWatch[] } {
    const undo: (() => void)[] = [];
    const events: { type: ZkEventType; path: string; kind: 'data' | 'child' }[] = [];
    const results: TreeResult[] = [];
    const zxid = this.zxid + 1;
    try {
      for (const o of ops) results.push(this.applyOne(sid, o, undo, events, zxid));
    } catch (err) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      throw err;
    }
    if (ops.some((o) => o.op !== 'check')) this.zxid = zxid;
    const fired: FiredWatch[] = [];
    for (const e of events) {
      const map = e.kind === 'data' ? this.dataWatches : this.childWatches;
      const set = map.get(e.path);
      if (!set) continue;
      map.delete(e.path);
      for (const s of set) {
        this.watchCounts.set(s, (this.watchCounts.get(s) ?? 1) - 1);
        fired.push({ sid: s, type: e.type, path: e.path });
      }
    }
    return { results, fired };
  }

  private applyOne(
    sid: string,
    o: TreeOp,
    undo: (() => void)[],
    events: { type: ZkEventType; path: string; kind: 'data' | 'child' }[],
    zxid: number,
  ): TreeResult {
    checkPath(o.path);
    switch (o.op) {
      case 'create': {
        const parentPath = parentOf(o.path);
        const parent = this.nodes.get(parentPath);
        if (!parent) throw new TreeError('NO_NODE', o.path, `create ${o.path}: parent ${parentPath} does not exist`);
        if (parent.ephemeralOwner !== NO_SESSION) {
          throw new TreeError('NO_CHILDREN_FOR_EPHEMERALS', o.path, `create ${o.path}: ${parentPath} is ephemeral`);
        }
        const path = o.mode.endsWith('sequential')
          ? `${o.path}${String(parent.cversion).padStart(SEQUENCE_DIGITS, '0')}`
          : o.path;
        if (this.nodes.has(path)) throw new TreeError('NODE_EXISTS', path, `create ${path}: the znode exists`);
        assert(this.nodes.size < MAX_ZNODES, `more than ${MAX_ZNODES} simulated znodes`);
        const owner = o.mode.startsWith('ephemeral') ? sid : NO_SESSION;
        this.nodes.set(path, newZnode(o.data, owner, this.wallMs(), zxid));
        const name = path.slice(parentPath === '/' ? 1 : parentPath.length + 1);
        const pzxid = parent.pzxid;
        parent.children.add(name);
        parent.cversion++;
        parent.pzxid = zxid;
        undo.push(() => {
          this.nodes.delete(path);
          parent.children.delete(name);
          parent.cversion--;
          parent.pzxid = pzxid;
        });
        events.push(
          { type: 'created', path, kind: 'data' },
          { type: 'children-changed', path: parentPath, kind: 'child' },
        );
        return { path };
      }
      case 'delete': {
        if (o.path === '/') throw new TreeError('OTHER', o.path, 'the root znode cannot be deleted');
        const n = this.existing(o.path, 'delete');
        checkVersion(n, o.version, o.path);
        if (n.children.size > 0) throw new TreeError('NOT_EMPTY', o.path, `delete ${o.path}: it has children`);
        const parentPath = parentOf(o.path);
        const parent = this.node(parentPath);
        const name = o.path.slice(parentPath === '/' ? 1 : parentPath.length + 1);
        this.nodes.delete(o.path);
        const pzxid = parent.pzxid;
        parent.children.delete(name);
        parent.cversion++;
        parent.pzxid = zxid;
        undo.push(() => {
          this.nodes.set(o.path, n);
          parent.children.add(name);
          parent.cversion--;
          parent.pzxid = pzxid;
        });
        events.push(
          { type: 'deleted', path: o.path, kind: 'data' },
          { type: 'deleted', path: o.path, kind: 'child' },
          { type: 'children-changed', path: parentPath, kind: 'child' },
        );
        return {};
      }
      case 'check': {
        checkVersion(this.existing(o.path, 'check'), o.version, o.path);
        return {};
      }
      case 'set': {
        const n = this.existing(o.path, 'setData');
        checkVersion(n, o.version, o.path);
        const before = { data: n.data, version: n.version, mtimeMs: n.mtimeMs, mzxid: n.mzxid };
        n.data = o.data;
        n.version++;
        n.mtimeMs = this.wallMs();
        n.mzxid = zxid;
        undo.push(() => Object.assign(n, before));
        events.push({ type: 'data-changed', path: o.path, kind: 'data' });
        return { stat: statOf(n) };
      }
    }
  }

  private existing(path: string, what: string): Znode {
    const n = this.nodes.get(path);
    if (!n) throw new TreeError('NO_NODE', path, `${what} ${path}: the znode does not exist`);
    return n;
  }

  private node(path: string): Znode {
    const n = this.nodes.get(path);
    if (!n) throw new TreeError('NO_NODE', path, `${path}: the znode does not exist`);
    return n;
  }
}

function newZnode(data: Uint8Array, ephemeralOwner: string, nowMs: number, zxid: number): Znode {
  return {
    data,
    version: 0,
    cversion: 0,
    mzxid: zxid,
    pzxid: zxid,
    ctimeMs: nowMs,
    mtimeMs: nowMs,
    ephemeralOwner,
    children: new Set(),
  };
}

function statOf(n: Znode): ZkStat {
  return {
    version: n.version,
    cversion: n.cversion,
    numChildren: n.children.size,
    dataLength: n.data.byteLength,
    ephemeralOwner: n.ephemeralOwner,
    ctimeMs: n.ctimeMs,
    mtimeMs: n.mtimeMs,
  };
}

function checkVersion(n: Znode, version: number, path: string): void {
  if (version !== -1 && version !== n.version) {
    throw new TreeError('BAD_VERSION', path, `${path}: version ${version} expected, it is ${n.version}`);
  }
}

/** ZooKeeper's path rules: absolute, no empty, '.' or '..' segments, no trailing slash. */
export function checkPath(path: string): void {
  const ok =
    path.length > 0 &&
    path.length <= MAX_PATH_CHARS &&
    path.startsWith('/') &&
    (path === '/' ||
      (!path.endsWith('/') &&
        path
          .split('/')
          .slice(1)
          .every((s) => s !== '' && s !== '.' && s !== '..')));
  if (!ok) throw new TreeError('OTHER', path, `invalid znode path '${path}'`);
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
