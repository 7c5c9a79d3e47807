// `rollcall parse`: read dump files of any supported format and summarize what was understood.
import { Command, Option } from 'commander';
import type { DumpFormat, NormalizedState, ParseResult, ProcessDump } from '../../dumps/model.js';
import { parseDumpFile } from '../../dumps/parse.js';
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
  const results: { file: string; result: ParseResult }[] = [];
  for (const file of files) {
    try {
      const result = await parseDumpFile(file, {
        keepUnparsed: flags.showUnparsed === true || flags.json === true,
        maxUnparsedListed: flags.maxUnparsed,
        ...(flags.format ? { format: flags.format } : {}),
      });
      results.push({ file, result });
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (flags.json) {
    process.stdout.write(
      JSON.stringify(
        results.map(({ file, result }) => ({ file, ...result })),
        jsonReplacer,
        2,
      ) + '\n',
    );
    return;
  }
  const out: string[] = [];
  for (const { file, result } of results) {
    out.push(
      `${file}: ${result.format}, ${result.dumps.length} dump${result.dumps.length === 1 ? '' : 's'}, ` +
        `${result.totalLines} lines (${result.unparsedLines} unparsed), ${result.errors.length} errors`,
    );
    result.dumps.forEach((d, i) => out.push(...describeDump(d, i, flags.threads === true)));
    for (const e of result.errors) out.push(`  ${file}:${e.line}: error: ${e.message}`);
    if (flags.showUnparsed) for (const u of result.unparsed) out.push(`  ${file}:${u.line}: ${u.text}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

function describeDump(d: ProcessDump, i: number, listThreads: boolean): string[] {
  const states = new Map<NormalizedState, number>();
  for (const t of d.threads) states.set(t.state, (states.get(t.state) ?? 0) + 1);
  const stateText = [...states].map(([s, n]) => `${s} ${n}`).join(', ');
  const facts = [
    d.node ? `node ${d.node}` : undefined,
    d.pid !== undefined ? `pid ${d.pid}` : undefined,
    d.jvmVersion,
    d.capturedAtMs !== undefined ? new Date(d.capturedAtMs).toISOString() : undefined,
  ].filter((x) => x !== undefined);
  const lines = [
    `  dump ${i + 1} (lines ${d.startLine}-${d.endLine}, ${d.format}${facts.length ? '; ' + facts.join('; ') : ''}): ` +
      `${d.threads.length} threads (${stateText || 'none'})`,
  ];
  for (const dl of d.deadlocks) {
    lines.push(`    JVM-reported deadlock at line ${dl.line}:`);
    for (const e of dl.entries) lines.push(`      "${e.thread}" waits for ${e.waitingToLock}, held by "${e.heldBy}"`);
  }
  if (listThreads) {
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
