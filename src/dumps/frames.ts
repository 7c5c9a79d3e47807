// Interning of frames and strings taken from dump text. Two reasons: a bundle repeats the same
// frames millions of times (one shared object each is a large memory saving), and a substring of
// a big input string keeps the whole input alive in V8 (a sliced string points at its parent), so
// everything kept is copied once, on first sight.
import type { Frame } from './model.js';

/** Bound on distinct frames kept; past it frames are still returned but no longer shared. */
export const MAX_INTERNED_FRAMES = 2_000_000;
/** Bound on distinct short strings (names, addresses, class names) kept. */
export const MAX_INTERNED_STRINGS = 2_000_000;

/** Returns a flat copy that does not point into a larger string. */
export function detach(s: string): string {
  // V8 copies for short slices anyway; longer ones would otherwise be SlicedStrings into the input.
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

class FrameImpl implements Frame {
  readonly module: string | undefined;
  readonly className: string;
  readonly method: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly native: boolean | undefined;

  constructor(
    readonly id: number,
    readonly text: string,
  ) {
    const p = parseFrameText(text);
    this.module = p.module;
    this.className = p.className;
    this.method = p.method;
    this.file = p.file;
    this.line = p.line;
    this.native = p.native;
  }
}

export interface FrameParts {
  module?: string;
  className: string;
  method: string;
  file?: string;
  line?: number;
  native?: boolean;
}

/**
 * Splits `[loader/][module@ver/]pkg.Class.method(File.java:12)` (StackTraceElement form, also the
 * Hadoop and JSON forms) and `pkg.Class.method(module@ver/File.java:12)` (jstack 9+ form).
 * Hidden classes contain a slash too (`Foo$$Lambda/0x0000…`): a slash followed by `0x` is kept.
 */
export function parseFrameText(text: string): FrameParts {
  const open = text.indexOf('(');
  const head = open < 0 ? text : text.slice(0, open);
  let module: string | undefined;
  let nameStart = 0;
  for (let i = head.indexOf('/'); i >= 0; i = head.indexOf('/', i + 1)) {
    if (head.startsWith('0x', i + 1)) continue;
    module = head.slice(0, i);
    nameStart = i + 1;
  }
  const qualified = head.slice(nameStart);
  const dot = qualified.lastIndexOf('.');
  const parts: FrameParts = {
    className: dot < 0 ? '' : qualified.slice(0, dot),
    method: dot < 0 ? qualified : qualified.slice(dot + 1),
  };
  if (open >= 0) {
    const close = text.lastIndexOf(')');
    let inside = text.slice(open + 1, close > open ? close : text.length);
    const slash = inside.lastIndexOf('/');
    if (slash >= 0) {
      module ??= inside.slice(0, slash);
      inside = inside.slice(slash + 1);
    }
    if (inside === 'Native Method') parts.native = true;
    else if (inside !== 'Unknown Source' && inside.length > 0) {
      const colon = inside.lastIndexOf(':');
      const line = colon < 0 ? NaN : Number(inside.slice(colon + 1));
      if (colon >= 0 && Number.isInteger(line)) {
        parts.file = inside.slice(0, colon);
        parts.line = line;
      } else parts.file = inside;
    }
  }
  if (module !== undefined && module.length > 0) parts.module = module;
  return parts;
}

/**
 * One Frame object per distinct frame text. Parsers share the process-wide `defaultFrameTable`
 * unless given another, so stack keys from different files of one analysis are comparable.
 */
export class FrameTable {
  private readonly byText = new Map<string, FrameImpl>();
  private nextId = 0;
  /** What parsers learned about this table's frames (text.ts); forgotten with them. */
  parserMemo: object | undefined;

  constructor(private readonly maxFrames = MAX_INTERNED_FRAMES) {}

  get size(): number {
    return this.byText.size;
  }

  /** `text` may be a slice of a large input: it is copied before being kept. */
  intern(text: string): Frame {
    const found = this.byText.get(text);
    if (found !== undefined) return found;
    const frame = new FrameImpl(this.nextId++, detach(text));
    if (this.byText.size < this.maxFrames) this.byText.set(frame.text, frame);
    return frame;
  }

  /** Forgets every frame (keys made before and after are then not comparable). */
  clear(): void {
    this.byText.clear();
    this.parserMemo = undefined;
  }
}

export const defaultFrameTable = new FrameTable();

const keyScratch: number[] = [];

/**
 * A short opaque string equal for equal frame lists from one FrameTable: one UTF-16 unit per frame
 * id below 0xD000, an escape plus two units otherwise.
 */
export function stackKeyOf(frames: readonly Frame[]): string {
  if (frames.length === 0) return '';
  let out = '';
  keyScratch.length = 0;
  for (const f of frames) {
    const id = f.id;
    if (id < 0xd000) keyScratch.push(id);
    else keyScratch.push(0xd000 + (id >>> 30), (id >>> 15) & 0x7fff, id & 0x7fff);
    if (keyScratch.length >= 4096) {
      out += String.fromCharCode.apply(null, keyScratch);
      keyScratch.length = 0;
    }
  }
  if (keyScratch.length > 0) out += String.fromCharCode.apply(null, keyScratch);
  keyScratch.length = 0;
  return out;
}

/** Copies and shares short strings (names, addresses, class names) that repeat across dumps. */
export class StringInterner {
  private readonly map = new Map<string, string>();
  constructor(private readonly maxStrings = MAX_INTERNED_STRINGS) {}

  get(s: string): string {
    return this.map.get(s) ?? this.add(detach(s));
  }

  /** The shared copy of `s`, if there is one. */
  lookup(s: string): string | undefined {
    return this.map.get(s);
  }

  /** Adds a string known not to be shared yet and to be a copy of its own (not a slice). */
  add(copy: string): string {
    if (this.map.size < this.maxStrings) this.map.set(copy, copy);
    return copy;
  }

  clear(): void {
    this.map.clear();
  }
}

export const defaultStrings = new StringInterner();

/**
 * For a parse whose result is encoded for the wire at once (JobRunner): strings are neither
 * copied nor looked up, because the encoder keeps one copy of each in its own table. A second
 * table as large would cost a hash-table miss per string, the largest single cost of parsing.
 * Strings may then be slices of the input windows: whatever outlives the parse must detach them.
 */
export class UnsharedStrings extends StringInterner {
  constructor() {
    super(0);
  }
  override get(s: string): string {
    return s;
  }
  override lookup(s: string): string {
    return s;
  }
}
