// `rollcall verify DATA_DIR`: checks a node's WAL segments and backup table the way the node opens
// them, and with --repair quarantines the damage (a copy kept beside each file) so it opens again.
import type { Command } from 'commander';
import type { FileVerdict } from '../../cluster/index.js';
import { verifyDataDir, VerifyInputError, type DataDirReport } from '../../runtime/index.js';
import { EXIT_FINDING, UsageError } from '../errors.js';

interface VerifyFlags {
  json?: boolean;
  repair?: boolean;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description(
      "Check a node's data (WAL segments, backup table) for damage the node would refuse to open with; --repair quarantines it.",
    )
    .argument('<DATA_DIR>', "a node's --data directory, or a directory of them (searched 3 levels deep)")
    .option('--json', 'print the report as JSON')
    .option(
      '--repair',
      'copy each corrupt file aside (<file>.corrupt-<time>, kept) and rewrite it with its intact records',
    )
    .addHelpText(
      'after',
      `
Only an incomplete last record (a torn tail) is something a crash leaves behind: a node cuts it
when it opens, since those bytes were never acknowledged. Any other damage (a checksum mismatch, a
damaged length, damage with intact records after it) may hold acknowledged records: the node refuses
to open and names the file and byte offset, leaving the data untouched, until it is repaired here.

Repair only the data of a stopped node: the node must not be writing while its files are rewritten.

Exit: 0 clean (torn tails included), 1 corruption found (also when --repair fixed it: run again to
see 0), 2 bad usage or a DATA_DIR with nothing to check.

JSON: {"dataDir","repair","clean","summary":{"files","ok","tornTails","corrupt","repaired"},
       "files":[{"path","kind":"wal-segment"|"backup-table","bytes","records","status":"ok"|"torn-tail"|"corrupt",
                 "damage":[{"kind","offset","bytes","reason"}],"quarantine"?,"droppedBytes"?}]}

Examples:
  rollcall verify /var/lib/rollcall/worker-1
  rollcall verify /var/lib/rollcall/worker-1 --repair`,
    )
    .action(async (dataDir: string, flags: VerifyFlags) => {
      const progress = process.stderr.isTTY === true && flags.json !== true;
      let checked = 0;
      let report: DataDirReport;
      try {
        report = await verifyDataDir(dataDir, {
          repair: flags.repair === true,
          ...(progress ? { onFile: () => process.stderr.write(`\rverify: ${++checked} files checked`) } : {}),
        });
      } catch (err) {
        if (err instanceof VerifyInputError) throw new UsageError(`verify: ${err.message}`);
        throw err;
      } finally {
        if (progress) process.stderr.write('\r\x1b[K');
      }
      const clean = report.summary.corrupt === 0;
      if (flags.json) {
        const { dataDir: dir, repair, summary, files } = report;
        process.stdout.write(JSON.stringify({ dataDir: dir, repair, clean, summary, files }) + '\n');
      } else process.stdout.write(formatVerify(report, dataDir));
      if (!clean) process.exitCode = EXIT_FINDING;
    });
}

export function formatVerify(r: DataDirReport, given: string): string {
  const s = r.summary;
  const out: string[] = [];
  const parts = [`${s.ok} ok`];
  if (s.tornTails > 0) parts.push(`${s.tornTails} with a torn tail (cut when the node opens)`);
  if (s.corrupt > 0) parts.push(`${s.corrupt} corrupt${r.repair ? `, ${s.repaired} repaired` : ''}`);
  out.push(`rollcall verify ${given}: ${s.files} file(s): ${parts.join(', ')}`);
  for (const f of r.files) if (f.status !== 'ok') out.push(...describe(f));
  if (s.corrupt > 0 && !r.repair) {
    out.push(
      `the node refuses to open until this is repaired: rollcall verify ${given} --repair (each corrupt file is copied aside first)`,
    );
  }
  return out.join('\n') + '\n';
}

function describe(f: FileVerdict): string[] {
  const lines = [`  ${f.status.padEnd(9)}  ${f.path} (${f.bytes} bytes, ${f.records} intact records)`];
  for (const d of f.damage) lines.push(`             ${d.bytes} bytes at byte ${d.offset}: ${d.reason}`);
  if (f.quarantine !== undefined) {
    lines.push(
      `             repaired: kept ${f.records} records, dropped ${f.droppedBytes} bytes; the original is kept at ${f.quarantine}`,
    );
  }
  return lines;
}
