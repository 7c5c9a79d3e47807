// Seeded randomness for the simulator. sfc32 (Chris Doty-Humphrey's Small Fast Counting generator):
// 128 bits of state, passes PractRand to large sizes, and needs only 32-bit integer ops, which V8
// runs without allocating. Every random choice in a simulated run (latency, drops, a handler
// pool's queue choice) comes from one of these streams, so a seed fully determines the run.
import type { Random } from '../types.js';

const TWO_POW_32 = 4294967296;

/** splitmix32: spreads a small seed over the full state so nearby seeds give unrelated streams. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** 32-bit FNV-1a of a string: derives a stream from a seed and a name (a node's, say). */
export function hashString32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class SimRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    const st = { s: seed | 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    // Discard the first outputs: sfc32 mixes its state over the first dozen steps.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A new independent stream derived from this seed and a label; does not advance this one. */
  static derive(seed: number, label: string): SimRandom {
    return new SimRandom((seed ^ hashString32(label)) | 0);
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Exponentially distributed with the given mean (the long tail of real network delays). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}
