// Parsers never throw on any input, and account for every line: parsed or counted unparsed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countLines } from '../../src/dumps/context.js';
import { parseDumpBuffer, parseDumpText, type ParseResult } from '../../src/dumps/index.js';
import { dumpLine } from './dump-lines.js';

const SHARED_DUMPS = fileURLToPath(new URL('../../../shared/dumps/', import.meta.url));
const samples = readdirSync(SHARED_DUMPS)
  .filter((f) => !f.endsWith('.md'))
  .map((f) => readFileSync(join(SHARED_DUMPS, f), 'utf8'));

function accounted(r: ParseResult, text: string): void {
  expect(r.totalLines).toBe(countLines(text));
  expect(r.parsedLines + r.unparsedLines).toBe(r.totalLines);
  expect(r.parsedLines).toBeGreaterThanOrEqual(0);
  for (const d of r.dumps) {
    expect(d.unparsedLines).toBeLessThanOrEqual(r.unparsedLines);
    for (const t of d.threads) expect(typeof t.stackKey).toBe('string');
  }
}

describe('parsers never throw and account for every line', () => {
  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const r = parseDumpBuffer(bytes);
        accounted(r, Buffer.from(bytes).toString('utf8'));
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary dump-like lines', () => {
    fc.assert(
      fc.property(fc.array(dumpLine, { maxLength: 120 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
        const text = lines.join(eol);
        accounted(parseDumpText(text, { keepUnparsed: true }), text);
      }),
      { numRuns: 400 },
    );
  });

  it('truncated real dumps', () => {
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.double({ min: 0, max: 1, noNaN: true }), (text, f) => {
        const cut = text.slice(0, Math.floor(text.length * f));
        accounted(parseDumpText(cut, { keepUnparsed: true }), cut);
      }),
      { numRuns: 200 },
    );
  });

  it('spliced real dumps', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom(...samples),
            fc.double({ min: 0, max: 1, noNaN: true }),
            fc.double({ min: 0, max: 1, noNaN: true }),
          ),
          { minLength: 2, maxLength: 5 },
        ),
        (pieces) => {
          const text = pieces
            .map(([s, a, b]) => s.slice(Math.floor(s.length * Math.min(a, b)), Math.floor(s.length * Math.max(a, b))))
            .join('');
          accounted(parseDumpText(text, { keepUnparsed: true }), text);
        },
      ),
      { numRuns: 150 },
    );
  });
});
