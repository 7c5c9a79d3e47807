// `rollcall parse`: read dump files of any supported format and summarize what was understood.
// Files are parsed on worker threads ahead of the output, large ones in parts; output is written
// file by file as each completes, so memory does not grow with the input.
import { statSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { FileDone } from '../../dumps/feed.js';
import type { DumpSummary } from '../../dumps/wire.js';
import {
  estimateInputBytes,
  IN_THREAD_MAX_BYTES,
  parseWorkersFor,
  stopStartedWorkers,
} from '../../dumps/worker-start.js';
import type { DumpFormat, NormalizedState, ProcessDump } from '../../dumps/model.js';
import { UsageError } from '../errors.js';
import { choiceOption, intOption } from '../options.js';

const FORMATS: readonly DumpFormat[] = [
  'jstack',
  'jmx',
  'jcmd-json',
  'hadoop-stacks',
  'rollcall-text',
  'rollcall-json',
];
const MAX_FILES = 100_000;

interface ParseFlags {
  json?: boolean;
  showUnparsed?: boolean;
  maxUnparsed: number;
  format?: DumpFormat;
  threads?: boolean;
}

export function registerParse(program: Command): void {
  program
    .command('parse')
    .description('Parse thread dump files (format detected per file) and summarize threads, states and deadlocks.')
    .argument('<FILE...>', 'dump files: jstack/jcmd, JMX ThreadInfo text, jcmd JSON, Hadoop /stacks, rollcall')
    .option('--json', 'print the full parse result of every file as JSON')
    .option('--show-unparsed', 'list the lines no rule understood, as FILE:LINE: text')
    .option(
      '--max-unparsed <N>',
      'list at most N unparsed lines per file',
      intOption('--max-unparsed', 1, 1_000_000),
      1000,
    )
    .addOption(new Option('--format <FORMAT>', 'skip detection').argParser(choiceOption('--format', FORMATS)))
    .option('--threads', 'list every thread (name, state, top frame)')
    .addHelpText(
      'after',
      `
Every input line is either parsed or counted as unparsed; a malformed thread block is reported
with its line number and skipped. Exit status: 0 when every file was read, 2 when one could not be.`,
    )
    .action(async (files: string[], flags: ParseFlags) => {
      await runParse(files, flags);
    });
}

async function runParse(files: string[], flags: ParseFlags): Promise<void> {
  if (files.length > MAX_FILES) throw new UsageError(`at most ${MAX_FILES} files`);
  for (const file of files) {
    try {
      if (statSync(file).isDirectory()) throw new Error('is a directory');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  const json = flags.json === true;
  // The summary lines need no threads: workers then send each dump's thread count and states
  // only, and the main thread has little to do.
  const summary = !json && flags.threads !== true;
  // bin.ts started this input's parsing threads before the CLI loaded; the pool takes them, and
  // any it did not take end here.
  try {
    await parseFiles(files, flags, json, summary);
  } finally {
    await stopStartedWorkers();
  }
}

async function parseFiles(files: string[], flags: ParseFlags, json: boolean, summary: boolean): Promise<void> {
  const { DumpFeed, FeedInputError } = await import('../../dumps/feed.js');
  const { defaultFrameTable } = await import('../../dumps/frames.js');
  const done: (FileDone | undefined)[] = [];
  const feed = new DumpFeed<ProcessDump | DumpSummary>(
    files.map((file) => ({ name: file, files: [file] })),
    {
      summary,
      keepUnparsed: flags.showUnparsed === true || json,
      maxUnparsedListed: flags.maxUnparsed,
      ...(flags.format ? { format: flags.format } : {}),
      frames: defaultFrameTable,
      workers: parseWorkersFor(estimateInputBytes(files, IN_THREAD_MAX_BYTES), !summary),
      onFile: (f) => (done[f.source] = f),
    },
  );
  const out = new Output();
  try {
    if (json) out.write('[');
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      const report: FileReport<ProcessDump | DumpSummary> = json
        ? new JsonFile(out, file, i === 0)
        : new TextFile(out, file, flags);
      for (;;) {
        let d;
        try {
          d = await feed.next(i);
        } catch (err) {
          if (err instanceof FeedInputError) throw new UsageError(err.message);
          throw err;
        }
        if (d === 'done') break;
        if (d !== null) report.dump(d);
      }
      report.end(done[i]!);
      done[i] = undefined;
      await out.drain();
    }
    if (json) out.write(files.length === 0 ? ']\n' : '\n]\n');
  } finally {
    await feed.close();
  }
  await out.drain();
}

/** stdout, written in pieces, waiting whenever it asks to. */
class Output {
  private chunks: string[] = [];
  private size = 0;
  write(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) this.flush();
  }
  private flush(): boolean {
    if (this.chunks.length === 0) return true;
    const text = this.chunks.join('');
    this.chunks = [];
    this.size = 0;
    return process.stdout.write(text);
  }
  async drain(): Promise<void> {
    if (!this.flush()) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

/** One file's output, written one dump behind: a dump's last line is final once the next dump (or the end) is seen. */
abstract class FileReport<D extends ProcessDump | DumpSummary> {
  private held: D | undefined;
  /** Dumps written so far. */
  protected count = 0;

  dump(d: D): void {
    if (this.count === 0 && this.held === undefined) this.first(d);
    this.release();
    this.held = d;
  }

  protected release(): void {
    if (this.held === undefined) return;
    this.write(this.held, this.count++);
    this.held = undefined;
  }

  protected first(_d: D): void {}
  protected abstract write(d: D, index: number): void;
  abstract end(f: FileDone): void;
}

/** A file's summary: its line first, so its dumps are kept as text until the file is complete. */
class TextFile extends FileReport<ProcessDump | DumpSummary> {
  private readonly lines: string[] = [];
  constructor(
    private readonly out: Output,
    private readonly file: string,
    private readonly flags: ParseFlags,
  ) {
    super();
  }

  protected write(d: ProcessDump | DumpSummary, index: number): void {
    this.lines.push(...describeDump(d, index, this.flags.threads === true));
  }

  end(f: FileDone): void {
    this.release();
    const file = this.file;
    const out = [
      `${file}: ${f.format}, ${f.dumps} dump${f.dumps === 1 ? '' : 's'}, ` +
        `${f.totalLines} lines (${f.unparsedLines} unparsed), ${f.errors.length} errors`,
      ...this.lines,
    ];
    for (const e of f.errors) out.push(`  ${file}:${e.line}: error: ${e.message}`);
    if (this.flags.showUnparsed) for (const u of f.unparsed) out.push(`  ${file}:${u.line}: ${u.text}`);
    this.out.write(out.join('\n') + '\n');
  }
}

/**
 * A file's entry in the JSON array, written as it is parsed, exactly as
 * JSON.stringify([{ file, ...result }], jsonReplacer, 2) would write it.
 */
class JsonFile extends FileReport<ProcessDump> {
  constructor(
    private readonly out: Output,
    private readonly file: string,
    private readonly isFirstFile: boolean,
  ) {
    super();
  }

  protected override first(d: ProcessDump): void {
    this.open(d.format);
  }

  private open(format: DumpFormat | 'unknown'): void {
    this.out.write(
      `${this.isFirstFile ? '\n' : ',\n'}  {\n    "file": ${JSON.stringify(this.file)},\n    "format": ${JSON.stringify(format)},\n    "dumps": `,
    );
  }

  protected write(d: ProcessDump, index: number): void {
    const text = indent(JSON.stringify(d, jsonReplacer, 2), '      ');
    this.out.write(index === 0 ? `[\n${text}` : `,\n${text}`);
  }

  end(f: FileDone): void {
    if (f.dumps === 0) this.open(f.format);
    this.release();
    this.out.write(this.count === 0 ? '[]' : '\n    ]');
    const rest = {
      totalLines: f.totalLines,
      parsedLines: f.parsedLines,
      unparsedLines: f.unparsedLines,
      unparsed: f.unparsed,
      errors: f.errors,
      bytes: f.bytes,
    };
    for (const [k, v] of Object.entries(rest))
      this.out.write(`,\n    ${JSON.stringify(k)}: ${indent(JSON.stringify(v, jsonReplacer, 2), '    ').trimStart()}`);
    this.out.write('\n  }');
  }
}

function indent(text: string, by: string): string {
  return by + text.replace(/\n/g, '\n' + by);
}

function describeDump(d: ProcessDump | DumpSummary, i: number, listThreads: boolean): string[] {
  let states: [NormalizedState, number][];
  if ('states' in d) states = d.states;
  else {
    const counts = new Map<NormalizedState, number>();
    for (const t of d.threads) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
    states = [...counts];
  }
  const threadCount = 'threadCount' in d ? d.threadCount : d.threads.length;
  const stateText = states.map(([s, n]) => `${s} ${n}`).join(', ');
  const facts = [
    d.node ? `node ${d.node}` : undefined,
    d.pid !== undefined ? `pid ${d.pid}` : undefined,
    d.jvmVersion,
    d.capturedAtMs !== undefined ? new Date(d.capturedAtMs).toISOString() : undefined,
  ].filter((x) => x !== undefined);
  const lines = [
    `  dump ${i + 1} (lines ${d.startLine}-${d.endLine}, ${d.format}${facts.length ? '; ' + facts.join('; ') : ''}): ` +
      `${threadCount} threads (${stateText || 'none'})`,
  ];
  for (const dl of d.deadlocks) {
    lines.push(`    JVM-reported deadlock at line ${dl.line}:`);
    for (const e of dl.entries) lines.push(`      "${e.thread}" waits for ${e.waitingToLock}, held by "${e.heldBy}"`);
  }
  if (listThreads && 'threads' in d) {
    for (const t of d.threads) {
      const top = t.frames[0];
      lines.push(`    "${t.name}" ${t.state}${top ? ` at ${top.text}` : ''}`);
    }
  }
  return lines;
}

/** Frames are shared objects with an internal id; print them as their text. */
function jsonReplacer(key: string, value: unknown): unknown {
  if (key === 'frames' && Array.isArray(value)) return value.map((f: { text: string }) => f.text);
  if (key === 'stackKey') return undefined;
  return value;
}
