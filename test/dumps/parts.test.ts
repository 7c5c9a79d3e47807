// An input parsed in parts — split where a dump starts, each part parsed on its own (as a worker
// does), its result sent through the wire encoding and the parts joined — is exactly the input
// parsed whole: same dumps, threads, line numbers and accounting.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameTable, UnsharedStrings } from '../../src/dumps/frames.js';
import type { ParseResult, ProcessDump } from '../../src/dumps/model.js';
import { inputShape, parseDumpText, parsePart } from '../../src/dumps/parse.js';
import { chooseCut, isSplittable, PartJoiner } from '../../src/dumps/pieces.js';
import { decodeResult, WireDecoder, WireEncoder } from '../../src/dumps/wire.js';
import { dumpLine } from './dump-lines.js';

const SHARED_DUMPS = fileURLToPath(new URL('../../../shared/dumps/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../fixtures/java-locks/', import.meta.url));
const texts = [
  ...readdirSync(SHARED_DUMPS)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => readFileSync(join(SHARED_DUMPS, f), 'utf8')),
  ...readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => readFileSync(join(FIXTURES, f), 'utf8')),
];

/** Unparsed lines listed: few, so that the bound is reached and must hold across parts too. */
const LISTED = 300;

/** Parses `text` the way the feed does a large input: parts of about `target` bytes. */
function parseInParts(text: string, target: number, frames: FrameTable): ParseResult & { parts: number } {
  const buf = Buffer.from(text);
  const shape = inputShape(buf);
  const prefix = shape.prefix === undefined ? undefined : new RegExp(shape.prefix, 'y');
  // The worker's side keeps its own tables; the main thread interns into `frames`.
  const workerFrames = new FrameTable();
  const workerStrings = new UnsharedStrings();
  const encoder = new WireEncoder();
  const decoder = new WireDecoder(frames);
  const joiner = new PartJoiner(LISTED);
  const dumps: ProcessDump[] = [];
  let parts = 0;
  for (let pos = 0; pos < buf.length; parts++) {
    const rest = buf.subarray(pos);
    const cut = isSplittable(shape.format) ? chooseCut(rest, rest.length, target, prefix) : -1;
    const bytes = rest.subarray(0, cut > 0 ? cut : rest.length);
    const part = parsePart(
      bytes,
      { keepUnparsed: true, maxUnparsedListed: LISTED, frames: workerFrames, strings: workerStrings },
      shape,
    );
    const r = decodeResult(decoder.receive(encoder.encode(part.result)), joiner.lineOffset);
    joiner.add(r, part.seam);
    dumps.push(...r.dumps);
    pos += bytes.length;
  }
  const { dumps: _count, ...totals } = joiner.totals;
  return { ...totals, dumps, parts };
}

/** Comparable form: frames as their text (ids differ between tables only when tables differ). */
function plain(r: ParseResult): unknown {
  return JSON.parse(
    JSON.stringify({ ...r, parts: undefined }, (k, v: unknown) =>
      k === 'frames' && Array.isArray(v) ? v.map((f: { text: string }) => f.text) : v,
    ),
  );
}

function sameAsWhole(text: string, target: number): number {
  const frames = new FrameTable();
  const whole = parseDumpText(text, { keepUnparsed: true, maxUnparsedListed: LISTED, frames });
  const inParts = parseInParts(text, target, frames);
  expect(plain(inParts)).toEqual(plain(whole));
  // Stack keys come from the same table, so they must agree too.
  expect(inParts.dumps.flatMap((d) => d.threads.map((t) => t.stackKey))).toEqual(
    whole.dumps.flatMap((d) => d.threads.map((t) => t.stackKey)),
  );
  return inParts.parts;
}

describe('an input parsed in parts is the input parsed whole', () => {
  it('real dumps, one after another, split at every size', () => {
    const text = texts.join('\n');
    let split = 0;
    for (const target of [1, 100, 5_000, 40_000, 300_000]) split = Math.max(split, sameAsWhole(text, target));
    // The test is only worth something if the input really was split.
    expect(split).toBeGreaterThan(10);
  });

  it('a lone thread after <EndOfDump> becomes a dump of its own where the whole parse makes it', () => {
    // Found by the block property below: the lone thread's dump is made when a later line ends the
    // thread, so only lines from that one on extend it.
    const lone = '"t" #2 daemon prio=5 tid=0x2 nid=0x2 waiting on condition  [0x0]';
    const header = 'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode):';
    for (const lead of ['JDK version: 17.0.10+7', '2024-01-01 00:00:05', '4242:\nJDK version: 17'])
      for (const target of [1, 50, 200])
        sameAsWhole([header, '<EndOfDump>', lone, lead, header, header].join('\n'), target);
  });

  it('dump-like lines, split at small sizes', () => {
    fc.assert(
      fc.property(
        fc.array(dumpLine, { maxLength: 150 }),
        fc.constantFrom('\n', '\r\n'),
        fc.integer({ min: 1, max: 400 }),
        (lines, eol, target) => {
          sameAsWhole(lines.join(eol), target);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('dump-like blocks, each led by the lines that date it', () => {
    const lead = fc.constantFrom('2024-01-01 00:00:05', '4242:', 'JDK version: 17.0.10+7', '', '  ', 'junk');
    const block = fc
      .tuple(
        fc.array(lead, { maxLength: 3 }),
        fc.constantFrom(
          'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode):',
          'Full thread dump rollcall 0.1.0 (node=m):',
        ),
        fc.array(dumpLine, { maxLength: 12 }),
      )
      .map(([l, h, body]) => [...l, h, ...body]);
    fc.assert(
      fc.property(fc.array(block, { maxLength: 12 }), fc.integer({ min: 1, max: 300 }), (blocks, target) => {
        sameAsWhole(blocks.flat().join('\n'), target);
      }),
      { numRuns: 300 },
    );
  });

  it('dumps copied out of a log, every line with the logger prefix', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...texts.slice(0, 6)), { minLength: 2, maxLength: 4 }),
        fc.integer({ min: 1, max: 20_000 }),
        (chosen, target) => {
          let ms = 0;
          const text = chosen
            .join('\n')
            .split('\n')
            .map((l) => `2024-03-01 10:00:00,${String(ms++ % 1000).padStart(3, '0')} INFO  [main] ${l}`)
            .join('\n');
          sameAsWhole(text, target);
        },
      ),
      { numRuns: 20 },
    );
  });
});
