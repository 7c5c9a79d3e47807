// Test helper: JDK 17 jstack text for hand-written threads, and an analysis of several nodes ×
// samples of them (node i is `n<i>`), so tests state stacks, states and locks directly.
import { Analyzer, type AnalysisResult } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpText } from '../../src/dumps/index.js';

const frames = new FrameTable();

export interface T {
  name: string;
  id?: number;
  state: string;
  /** Frames, innermost first, as printed after `at `. */
  stack: string[];
  cpu?: number;
  /** Lock lines printed after the first frame, without the leading `- `. */
  locks?: string[];
}

/** A JDK 17 jstack dump of the given threads. */
export function jstack(threads: T[]): string {
  const out = ['2026-01-01 10:00:00', 'Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6 mixed mode):', ''];
  threads.forEach((t, i) => {
    const id = t.id ?? i + 10;
    const cpu = t.cpu !== undefined ? ` cpu=${t.cpu.toFixed(2)}ms` : '';
    out.push(
      `"${t.name}" #${id} daemon prio=5 os_prio=0${cpu} elapsed=1.00s tid=0x${(0x7f0000 + id).toString(16)} nid=0x${id.toString(16)} waiting  [0x0]`,
    );
    out.push(`   java.lang.Thread.State: ${t.state}`);
    t.stack.forEach((f, k) => {
      out.push(`\tat ${f}`);
      if (k === 0) for (const l of t.locks ?? []) out.push(`\t- ${l}`);
    });
    out.push('');
  });
  return out.join('\n') + '\n';
}

/** samples[node][round] = that node's threads in that round. */
export function run(samples: T[][][], options: ConstructorParameters<typeof Analyzer>[0] = {}): AnalysisResult {
  const a = new Analyzer({ ...options, detail: true });
  const rounds = samples[0]!.length;
  for (let r = 0; r < rounds; r++) {
    a.addRound(
      samples.map((nodeSamples, n) => {
        const d = parseDumpText(jstack(nodeSamples[r]!), { frames }).dumps[0]!;
        d.node = `n${n}`;
        return d;
      }),
    );
  }
  return a.finish();
}

export const classOf = (res: AnalysisResult, name: string) => res.detail!.threads.find((t) => t.name === name)!.class;
