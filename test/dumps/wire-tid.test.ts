// A thread pointer in HotSpot's form travels as a number and comes back as the same text; any
// other form is not taken for one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tidNumber, tidText } from '../../src/dumps/wire.js';

describe('tids as numbers', () => {
  it('gives back the same text for every 0x + 16 hex digits whose value a double holds', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }), (v) => {
        const text = '0x' + v.toString(16).padStart(16, '0');
        const n = tidNumber(text);
        expect(n).toBe(Number(v));
        expect(tidText(n)).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes no other form', () => {
    for (const s of [
      '0x00007F0C5C0286F0', // upper case
      '0x7f0c5c0286f0', // short
      '0x00007f0c5c0286f00', // long
      '0X00007f0c5c0286f0',
      '1x00007f0c5c0286f0',
      '0x00007f0c5c0286fg',
      '0xffffffffffffffff', // past 2^53
      '0x0020000000000000', // 2^53
      '',
    ])
      expect(tidNumber(s)).toBe(-1);
    expect(tidNumber('0x001fffffffffffff')).toBe(Number.MAX_SAFE_INTEGER);
  });
});
