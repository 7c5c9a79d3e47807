// The trace hash: a fast, non-cryptographic 64-bit digest folded over a run's ordered events.
// Two independent 32-bit MurmurHash3 lanes (different seeds and constants) make the 64 bits; only
// 32-bit integer ops, so folding an event costs a few nanoseconds and allocates nothing. Two runs
// with the same digest executed the same events, at the same virtual times, with the same bytes.

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class TraceHash {
  private h1 = 0x9747b28c;
  private h2 = 0x2c1b3c6d;
  private words = 0;

  /** Folds one 32-bit word into both lanes. */
  word(w: number): void {
    let k1 = Math.imul(w | 0, 0xcc9e2d51);
    k1 = rotl(k1, 15);
    k1 = Math.imul(k1, 0x1b873593);
    this.h1 ^= k1;
    this.h1 = rotl(this.h1, 13);
    this.h1 = (Math.imul(this.h1, 5) + 0xe6546b64) | 0;

    let k2 = Math.imul(w | 0, 0x239b961b);
    k2 = rotl(k2, 17);
    k2 = Math.imul(k2, 0xab0e9789);
    this.h2 ^= k2;
    this.h2 = rotl(this.h2, 11);
    this.h2 = (Math.imul(this.h2, 9) + 0x38b34ae5) | 0;
    this.words++;
  }

  /** Folds a double bit-exactly (virtual times are fractional milliseconds). */
  double(x: number): void {
    f64[0] = x;
    this.word(u32[0]!);
    this.word(u32[1]!);
  }

  bytes(data: Uint8Array): void {
    const n = data.length;
    this.word(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) this.word(data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    let tail = 0;
    for (let s = 0; i < n; i++, s += 8) tail |= data[i]! << s;
    if (n % 4 !== 0) this.word(tail);
  }

  string(text: string): void {
    this.word(text.length);
    for (let i = 0; i < text.length; i++) this.word(text.charCodeAt(i));
  }

  /** 16 hex digits; does not change the state, so it can be read mid-run. */
  hex(): string {
    // Cross the lanes at the end so a difference in either one changes all 64 bits.
    const a = fmix32((this.h1 ^ this.words) >>> 0);
    const b = fmix32((this.h2 ^ a) >>> 0);
    return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
  }
}
