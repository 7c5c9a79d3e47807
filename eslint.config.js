// Lint rules. The important ones are the architecture (lint/rollcall-rules.js): the layer graph of
// src, and protocol code that gets its clock, network, disk and randomness only from the injected
// substrate, so it runs unchanged on real TCP and in the simulator.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import rollcall from './lint/rollcall-rules.js';

/**
 * The layers of src (README, "How it works"), most specific path first: a folder ends in '/'.
 * Protocol layers are marked; their code may not touch the host.
 */
const LAYERS = [
  { name: 'util', paths: ['src/util/'], protocol: true },
  { name: 'waitgraph', paths: ['src/waitgraph/'], protocol: true },
  { name: 'substrate/real', paths: ['src/substrate/real/'] },
  { name: 'substrate/sim', paths: ['src/substrate/sim/'], protocol: true },
  { name: 'substrate', paths: ['src/substrate/'], protocol: true },
  { name: 'threads', paths: ['src/threads/'], protocol: true },
  { name: 'rpc', paths: ['src/rpc/'], protocol: true },
  { name: 'barrier', paths: ['src/barrier/'], protocol: true },
  { name: 'cluster', paths: ['src/cluster/'], protocol: true },
  {
    // node-zookeeper-client behind the substrate's ZooKeeper interface, and the entry point that
    // wires it for real nodes.
    name: 'coordination/real',
    paths: [
      'src/coordination/zookeeper/session.ts',
      'src/coordination/zookeeper/index.ts',
      'src/coordination/zookeeper/node-zookeeper-client.d.ts',
    ],
  },
  { name: 'coordination', paths: ['src/coordination/'], protocol: true },
  { name: 'detect', paths: ['src/detect/'], protocol: true },
  { name: 'sim', paths: ['src/sim/'] },
  { name: 'dumps', paths: ['src/dumps/'] },
  { name: 'capture', paths: ['src/capture/'] },
  { name: 'diagnose', paths: ['src/diagnose/'] },
  { name: 'report', paths: ['src/report/'] },
  { name: 'watch', paths: ['src/watch/'] },
  { name: 'admin', paths: ['src/admin/'] },
  { name: 'runtime', paths: ['src/runtime/'] },
  { name: 'demo', paths: ['src/demo/'] },
  { name: 'cli', paths: ['src/cli/'] },
];

/** What each layer may import besides itself. Arrows point down; nothing imports cli. */
const PROTOCOL_BASE = ['substrate', 'threads', 'util'];
const ALLOW = {
  util: [],
  waitgraph: ['util'],
  substrate: ['util'],
  'substrate/sim': ['substrate', 'util'],
  'substrate/real': ['substrate', 'util'],
  // Wait descriptors name the wait-for graph's vertex kinds (issue 13 moved them to waitgraph).
  threads: ['substrate', 'util', 'waitgraph'],
  rpc: PROTOCOL_BASE,
  barrier: [...PROTOCOL_BASE, 'rpc'],
  cluster: [...PROTOCOL_BASE, 'rpc', 'barrier'],
  coordination: [...PROTOCOL_BASE, 'barrier'],
  'coordination/real': ['coordination', 'substrate', 'substrate/real', 'util'],
  // The online detector shares only the wait-for graph with diagnose.
  detect: [...PROTOCOL_BASE, 'waitgraph', 'cluster'],
  sim: [...PROTOCOL_BASE, 'substrate/sim', 'rpc', 'barrier', 'cluster', 'coordination', 'detect'],
  dumps: ['threads', 'util'],
  capture: ['dumps', 'substrate', 'substrate/real', 'threads', 'util'],
  diagnose: ['dumps', 'threads', 'waitgraph', 'util'],
  report: ['diagnose', 'dumps', 'threads', 'waitgraph', 'util'],
  watch: ['capture', 'diagnose', 'report', 'dumps', 'substrate', 'threads', 'waitgraph', 'util'],
  admin: ['threads', 'dumps', 'substrate', 'substrate/real', 'util'],
  runtime: [
    'admin',
    'barrier',
    'capture',
    'cluster',
    'coordination',
    'coordination/real',
    'detect',
    'dumps',
    'rpc',
    'substrate',
    'substrate/real',
    'threads',
    'util',
    'waitgraph',
  ],
  demo: LAYERS.map((l) => l.name).filter((n) => n !== 'demo' && n !== 'cli'),
  cli: LAYERS.map((l) => l.name).filter((n) => n !== 'cli'),
};


/** Packages protocol code may import: none does I/O, reads a clock or draws random numbers. */
const PURE_PACKAGES = [];

/** Globals protocol code may use: the language's own, and pure encoders, URLs and abort signals. */
const PURE_GLOBALS = [
  'AbortController',
  'AbortSignal',
  'AggregateError',
  'Array',
  'ArrayBuffer',
  'BigInt',
  'BigInt64Array',
  'BigUint64Array',
  'Boolean',
  'DataView',
  'Date',
  'Error',
  'Float32Array',
  'Float64Array',
  'Infinity',
  'Int16Array',
  'Int32Array',
  'Int8Array',
  'JSON',
  'Map',
  'Math',
  'NaN',
  'Number',
  'Object',
  'Promise',
  'RangeError',
  'ReferenceError',
  'Reflect',
  'RegExp',
  'Set',
  'String',
  'Symbol',
  'SyntaxError',
  'TextDecoder',
  'TextEncoder',
  'TypeError',
  'URIError',
  'URL',
  'Uint16Array',
  'Uint32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'WeakMap',
  'WeakSet',
  'decodeURIComponent',
  'encodeURIComponent',
  'isFinite',
  'isNaN',
  'parseFloat',
  'parseInt',
  'undefined',
];

const globs = (protocol) =>
  LAYERS.filter((l) => Boolean(l.protocol) === protocol).flatMap((l) =>
    l.paths.map((p) => (p.endsWith('/') ? `${p}**` : p)),
  );

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'fixtures/**/*.class', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { rollcall },
    rules: {
      'rollcall/layers': ['error', { layers: LAYERS, allow: ALLOW }],
    },
  },
  {
    files: globs(true),
    // Host-facing code nested in a protocol folder (substrate/real, the real ZooKeeper client).
    ignores: globs(false),
    plugins: { rollcall },
    rules: {
      'rollcall/protocol-imports': ['error', { allow: PURE_PACKAGES }],
      'rollcall/protocol-globals': ['error', { allow: PURE_GLOBALS }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use substrate.clock.wallMs / nowMs.' },
        { object: 'Math', property: 'random', message: 'Use substrate.random for determinism.' },
        { object: 'AbortSignal', property: 'timeout', message: 'Use substrate.clock.setTimer.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Use substrate.clock.wallMs.' },
      ],
    },
  },
);
