// Protocol code must take its clock, network and disk from the injected substrate. ESLint enforces
// it; this test proves the rule bites (a rule that silently stopped matching would pass any code).
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('protocol purity lint', () => {
  const offenders: [string, string][] = [
    ['setTimeout', 'export const x = () => setTimeout(() => {}, 1);\n'],
    ['Date.now', 'export const x = () => Date.now();\n'],
    ['Math.random', 'export const x = () => Math.random();\n'],
    ['new Date()', 'export const x = () => new Date();\n'],
    ['node:net', "import net from 'node:net';\nexport const x = net;\n"],
    ['fs', "import fs from 'fs';\nexport const x = fs;\n"],
    [
      'real substrate',
      "import { realSubstrate } from '../substrate/real/index.js';\nexport const x = realSubstrate;\n",
    ],
  ];
  for (const folder of ['rpc', 'threads', 'cluster', 'barrier', 'waitgraph']) {
    for (const [what, code] of offenders) {
      it(`rejects ${what} in src/${folder}`, async () => {
        expect(await problems(`src/${folder}/probe.ts`, code)).not.toEqual([]);
      });
    }
  }

  // Layers: the runtime's detector and predictor share analysis with `analyze` through src/waitgraph.
  const layerProbes: [string, string, boolean][] = [
    ['src/detect/probe.ts', '../diagnose/analyze.js', false],
    ['src/detect/probe.ts', '../waitgraph/index.js', true],
    ['src/waitgraph/probe.ts', '../threads/index.js', false],
    ['src/diagnose/probe.ts', '../detect/index.js', false],
    ['src/diagnose/probe.ts', '../waitgraph/index.js', true],
  ];
  for (const [file, from, allowed] of layerProbes) {
    it(`${allowed ? 'allows' : 'rejects'} ${from} in ${file}`, async () => {
      const found = await problems(file, `import { x } from '${from}';\nexport const y = x;\n`);
      expect(found.some((p) => p.startsWith('no-restricted-imports'))).toBe(!allowed);
    });
  }
  // The layer rules repeat the protocol rules for protocol folders (the last block wins per rule).
  it('still rejects node:net in src/detect', async () => {
    expect(await problems('src/detect/probe.ts', "import net from 'node:net';\nexport const x = net;\n")).not.toEqual(
      [],
    );
  });

  it('allows the same code in the real substrate', async () => {
    expect(await problems('src/substrate/real/probe.ts', 'export const x = () => setTimeout(() => {}, 1);\n')).toEqual(
      [],
    );
  });
});
