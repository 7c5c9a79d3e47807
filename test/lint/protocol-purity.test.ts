// The architecture is enforced by the lint (eslint.config.js, lint/rollcall-rules.js). This test
// proves each rule bites on each kind of violation, by rule id and message id: a rule that stopped
// matching, or a parse error, would otherwise pass for "some message appears".
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

interface Problem {
  rule: string | null;
  id: string | undefined;
  message: string;
}

async function problems(file: string, code: string): Promise<Problem[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return (result?.messages ?? []).map((m) => ({ rule: m.ruleId, id: m.messageId, message: m.message }));
}

/** The one problem `code` has at `file`: its rule and message id. */
async function only(file: string, code: string): Promise<Problem> {
  const found = await problems(file, code);
  expect(found, JSON.stringify(found)).toHaveLength(1);
  return found[0]!;
}

const PROTOCOL_FOLDERS = [
  'util',
  'waitgraph',
  'threads',
  'rpc',
  'barrier',
  'cluster',
  'detect',
  'coordination/zookeeper',
  'substrate/sim',
];

/** Each forbidden kind, as protocol code would write it, with the rule and message id it must raise. */
const PROTOCOL_OFFENDERS: { kind: string; code: string; rule: string; id: string }[] = [
  {
    kind: 'node:perf_hooks',
    code: "import { performance } from 'node:perf_hooks';\nexport const x = performance;\n",
    rule: 'rollcall/protocol-imports',
    id: 'nodeBuiltin',
  },
  {
    kind: 'node:os',
    code: "import os from 'node:os';\nexport const x = os;\n",
    rule: 'rollcall/protocol-imports',
    id: 'nodeBuiltin',
  },
  {
    kind: 'node:tls',
    code: "import tls from 'node:tls';\nexport const x = tls;\n",
    rule: 'rollcall/protocol-imports',
    id: 'nodeBuiltin',
  },
  {
    kind: 'node:worker_threads',
    code: "import { Worker } from 'node:worker_threads';\nexport const x = Worker;\n",
    rule: 'rollcall/protocol-imports',
    id: 'nodeBuiltin',
  },
  {
    kind: 'bare fs',
    code: "import fs from 'fs';\nexport const x = fs;\n",
    rule: 'rollcall/protocol-imports',
    id: 'nodeBuiltin',
  },
  {
    kind: 'node:net re-export',
    code: "export { Socket } from 'node:net';\n",
    rule: 'rollcall/protocol-imports',
    id: 'nodeBuiltin',
  },
  {
    kind: 'an npm package',
    code: "import zookeeper from 'node-zookeeper-client';\nexport const x = zookeeper;\n",
    rule: 'rollcall/protocol-imports',
    id: 'package',
  },
  {
    kind: 'a computed dynamic import',
    code: 'export const load = (m: string): Promise<unknown> => import(m);\n',
    rule: 'rollcall/protocol-imports',
    id: 'dynamicImport',
  },
  {
    kind: 'a literal dynamic import',
    code: "export const load = (): Promise<unknown> => import('node:child_process');\n",
    rule: 'rollcall/protocol-imports',
    id: 'nodeBuiltin',
  },
  {
    kind: 'setTimeout',
    code: 'export const x = (): unknown => setTimeout(() => {}, 1);\n',
    rule: 'rollcall/protocol-globals',
    id: 'hostGlobal',
  },
  {
    kind: 'globalThis.setTimeout',
    code: 'export const x = (): unknown => globalThis.setTimeout(() => {}, 1);\n',
    rule: 'rollcall/protocol-globals',
    id: 'hostGlobal',
  },
  {
    kind: 'crypto.randomUUID()',
    code: 'export const x = (): string => crypto.randomUUID();\n',
    rule: 'rollcall/protocol-globals',
    id: 'hostGlobal',
  },
  {
    kind: 'performance.now()',
    code: 'export const x = (): number => performance.now();\n',
    rule: 'rollcall/protocol-globals',
    id: 'hostGlobal',
  },
  {
    kind: 'process',
    code: 'export const x = (): number => process.pid;\n',
    rule: 'rollcall/protocol-globals',
    id: 'hostGlobal',
  },
  {
    kind: 'queueMicrotask',
    code: 'export const x = (): void => queueMicrotask(() => {});\n',
    rule: 'rollcall/protocol-globals',
    id: 'hostGlobal',
  },
  {
    kind: 'WeakRef (garbage-collector timing)',
    code: 'export const x = (o: object): unknown => new WeakRef(o);\n',
    rule: 'rollcall/protocol-globals',
    id: 'hostGlobal',
  },
  {
    kind: 'Date.now',
    code: 'export const x = (): number => Date.now();\n',
    rule: 'no-restricted-properties',
    id: 'restrictedObjectProperty',
  },
  {
    kind: 'Math.random',
    code: 'export const x = (): number => Math.random();\n',
    rule: 'no-restricted-properties',
    id: 'restrictedObjectProperty',
  },
  {
    kind: 'AbortSignal.timeout',
    code: 'export const x = (): AbortSignal => AbortSignal.timeout(5);\n',
    rule: 'no-restricted-properties',
    id: 'restrictedObjectProperty',
  },
  {
    kind: 'new Date()',
    code: 'export const x = (): Date => new Date();\n',
    rule: 'no-restricted-syntax',
    id: 'restrictedSyntax',
  },
];

describe('protocol code touches nothing of the host', () => {
  for (const folder of PROTOCOL_FOLDERS) {
    for (const o of PROTOCOL_OFFENDERS) {
      it(`rejects ${o.kind} in src/${folder} (${o.rule} ${o.id})`, async () => {
        expect(await only(`src/${folder}/probe.ts`, o.code)).toMatchObject({ rule: o.rule, id: o.id });
      });
    }
  }

  it('allows pure globals, relative imports down the layers, and types from the host', async () => {
    const code = [
      "import type { Clock } from '../substrate/types.js';",
      'export const encode = (s: string): Uint8Array => new TextEncoder().encode(s);',
      'export const when = (c: Clock): Date => new Date(c.wallMs());',
      'export const abort = (): AbortController => new AbortController();',
      'export type Handle = ReturnType<typeof globalThis.setTimeout>;',
      '',
    ].join('\n');
    expect(await problems('src/rpc/probe.ts', code)).toEqual([]);
  });

  it('allows the host in the real substrate and the real ZooKeeper client', async () => {
    const code = "import net from 'node:net';\nexport const x = (): unknown => [net, setTimeout, process.pid];\n";
    expect(await problems('src/substrate/real/probe.ts', code)).toEqual([]);
    expect(await problems('src/coordination/zookeeper/session.ts', code)).toEqual([]);
  });
});

/** Imports that break the layer graph: importing file, specifier. */
const LAYER_OFFENDERS: { what: string; file: string; spec: string; to: string }[] = [
  {
    what: 'protocol code importing the real substrate',
    file: 'src/rpc/probe.ts',
    spec: '../substrate/real/index.js',
    to: 'substrate/real',
  },
  {
    what: 'coordination importing the real ZooKeeper client',
    file: 'src/coordination/zookeeper/probe.ts',
    spec: './session.js',
    to: 'coordination/real',
  },
  { what: 'diagnose importing runtime', file: 'src/diagnose/probe.ts', spec: '../runtime/index.js', to: 'runtime' },
  { what: 'diagnose importing cli', file: 'src/diagnose/probe.ts', spec: '../cli/main.js', to: 'cli' },
  { what: 'diagnose importing cluster', file: 'src/diagnose/probe.ts', spec: '../cluster/index.js', to: 'cluster' },
  { what: 'the substrate importing rpc', file: 'src/substrate/sim/probe.ts', spec: '../../rpc/index.js', to: 'rpc' },
  {
    what: 'the substrate importing threads',
    file: 'src/substrate/probe.ts',
    spec: '../threads/index.js',
    to: 'threads',
  },
  {
    what: 'the real substrate importing rpc',
    file: 'src/substrate/real/network2.ts',
    spec: '../../rpc/auth.js',
    to: 'rpc',
  },
  {
    what: 'detect importing diagnose beyond the graph it shares',
    file: 'src/detect/detector.ts',
    spec: '../diagnose/analyze.js',
    to: 'diagnose',
  },
  { what: 'util importing the substrate', file: 'src/util/probe.ts', spec: '../substrate/types.js', to: 'substrate' },
  { what: 'rpc importing barrier (upward)', file: 'src/rpc/probe.ts', spec: '../barrier/index.js', to: 'barrier' },
  { what: 'capture importing diagnose', file: 'src/capture/probe.ts', spec: '../diagnose/index.js', to: 'diagnose' },
  { what: 'capture importing cli', file: 'src/capture/probe.ts', spec: '../cli/main.js', to: 'cli' },
  { what: 'watch importing cli', file: 'src/watch/probe.ts', spec: '../cli/main.js', to: 'cli' },
  { what: 'sim importing diagnose', file: 'src/sim/probe.ts', spec: '../diagnose/result.js', to: 'diagnose' },
];

describe('the layer graph of src', () => {
  for (const o of LAYER_OFFENDERS) {
    it(`rejects ${o.what} (rollcall/layers forbiddenLayer)`, async () => {
      const p = await only(o.file, `import * as m from '${o.spec}';\nexport const x = m;\n`);
      expect(p).toMatchObject({ rule: 'rollcall/layers', id: 'forbiddenLayer' });
      expect(p.message).toContain(`must not import ${o.to}`);
    });
  }

  it('checks type-only imports and re-exports too', async () => {
    for (const code of [
      "import type { Verdict } from '../runtime/x.js';\nexport type V = Verdict;\n",
      "export * from '../runtime/x.js';\n",
    ]) {
      expect(await only('src/diagnose/probe.ts', code)).toMatchObject({
        rule: 'rollcall/layers',
        id: 'forbiddenLayer',
      });
    }
  });

  it('refuses a folder that is in no layer, and imports that leave src', async () => {
    expect(await only('src/mystery/probe.ts', 'export const x = 1;\n')).toMatchObject({
      rule: 'rollcall/layers',
      id: 'unknownLayer',
    });
    expect(
      await only('src/report/probe.ts', "import * as t from '../../test/support/gate.js';\nexport const x = t;\n"),
    ).toMatchObject({
      rule: 'rollcall/layers',
      id: 'outsideSource',
    });
  });

  it('allows imports down the graph, and no exceptions', async () => {
    const ok: [string, string][] = [
      ['src/cluster/probe.ts', '../barrier/index.js'],
      ['src/sim/probe.ts', '../coordination/zookeeper/transports.js'],
      ['src/runtime/probe.ts', '../coordination/zookeeper/index.js'],
      ['src/report/probe.ts', '../diagnose/result.js'],
      ['src/watch/probe.ts', '../capture/index.js'],
      ['src/capture/probe.ts', '../substrate/real/index.js'],
    ];
    for (const [file, spec] of ok) {
      expect(
        await problems(file, `import * as m from '${spec}';\nexport const x = m;\n`),
        `${file} -> ${spec}`,
      ).toEqual([]);
    }
    // The two imports that were allowed while issues 13 and 16 moved their code are refused now.
    expect(
      await only('src/detect/detector.ts', "import * as m from '../diagnose/online.js';\nexport const x = m;\n"),
    ).toMatchObject({
      rule: 'rollcall/layers',
      id: 'forbiddenLayer',
    });
    expect(
      await only('src/substrate/real/auth.ts', "import * as m from '../../rpc/index.js';\nexport const x = m;\n"),
    ).toMatchObject({
      rule: 'rollcall/layers',
      id: 'forbiddenLayer',
    });
  });
});
