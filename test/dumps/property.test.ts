// Parsers never throw on any input, and account for every line: parsed or counted unparsed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countLines } from '../../src/dumps/context.js';
import { parseDumpBuffer, parseDumpText, type ParseResult } from '../../src/dumps/index.js';

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

/** Lines that look like dump lines, to reach deep into the parsers' state machines. */
const dumpLine = fc.oneof(
  fc.constantFrom(
    'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode):',
    'Full thread dump rollcall 0.1.0 (node=m role=master pid=1 monotonicMs=5.000):',
    '"t" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable  [0x0]',
    '"t" #2 daemon prio=5 progress=3 completed=1 pool=default tid=0x2 nid=0x2 waiting on condition  [0x0]',
    '"x" Id=3 BLOCKED on java.lang.Object@1 owned by "y" Id=4',
    '"name":',
    '   java.lang.Thread.State: WAITING (parking)',
    '\tat a.B.c(B.java:1)',
    '\t- locked <0x1> (a java.lang.Object)',
    '\t- parking to wait for  <0x2> (a X)',
    '\t- rollcall: idle',
    '\t- rollcall: waiting on rpc call=1 method=m target=t deadlineInMs=5',
    '\t- rollcall: waiting on barrier procedure=p instance=i phase=reached missingCount=1 missing=a',
    '\t- rollcall: serving call=1 method=m caller=c callerThread=2 forMs=1.0',
    '   Locked ownable synchronizers:',
    '\t- None',
    '   Carrying virtual thread #5',
    '   Mounted virtual thread #5',
    'Found one Java-level deadlock:',
    '=============================',
    '  waiting to lock monitor 0x1 (object 0x2, a X),',
    '  which is held by "t"',
    'Java stack information for the threads listed above:',
    'Found 1 deadlock.',
    'Threads class SMR info:',
    '_java_thread_list=0x1, length=1, elements={',
    '}',
    'JNI global refs: 3, weak refs: 0',
    'Heap',
    ' PSYoungGen total 1K',
    'rollcall pools:',
    '  pool=default size=3 busy=1 idle=2 queues=0,0,0 maxQueueLength=30 rejected=0 completed=1 queuedTotal=0',
    '    queued call=1 method=m caller=c callerThread=1 queue=0',
    '2024-01-01 00:00:00',
    '4242:',
    '<EndOfDump>',
    'Process Thread Dump: x',
    'Thread 3 (n):',
    '  State: WAITING',
    '  Stack:',
    '    a.B.c(B.java:1)',
    '',
    '\r',
  ),
  fc.string({ maxLength: 40 }),
);

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
