// Lint rules. The important one: protocol code must get its clock, network and disk from the
// injected substrate, so it runs unchanged on real TCP and in the simulator.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PROTOCOL_FOLDERS = [
  'src/waitgraph/**',
  'src/detect/**',
  'src/threads/**',
  'src/rpc/**',
  'src/barrier/**',
  'src/cluster/**',
  'src/substrate/types.ts',
  'src/substrate/sim/**',
];

const nodeIo = ['net', 'fs', 'fs/promises', 'timers', 'timers/promises', 'dgram', 'http', 'child_process', 'crypto', 'path'];

// Layers (DESIGN §2): the runtime's detector and predictor share the wait-for graph and the
// latent-deadlock core with `analyze` through src/waitgraph, never through the analysis of dumps;
// waitgraph depends on nothing; diagnose never imports the cluster or the runtime's detector.
const layer = (group, message) => ({ group, message });
const LAYERS = {
  'src/waitgraph/**': [
    layer(['**/diagnose/**', '**/detect/**', '**/dumps/**', '**/report/**', '**/cli/**', '**/cluster/**', '**/threads/**'], 'waitgraph depends on nothing: both the runtime and analyze build on it.'),
  ],
  'src/detect/**': [
    layer(['**/diagnose/**', '**/dumps/**', '**/report/**', '**/cli/**'], 'detect shares analysis with analyze through src/waitgraph only.'),
  ],
  'src/diagnose/**': [
    layer(['**/detect/**', '**/cluster/**', '**/runtime/**', '**/cli/**'], 'diagnose reads dumps; it shares the runtime’s computations through src/waitgraph.'),
  ],
};
const substratePattern = {
  group: ['**/substrate/real/**', '**/substrate/real'],
  message: 'Protocol code must not import a concrete substrate.',
};
const protocolPaths = nodeIo.flatMap((m) => [
  { name: m, message: 'Protocol code takes I/O from the injected Substrate.' },
  { name: `node:${m}`, message: 'Protocol code takes I/O from the injected Substrate.' },
]);
const isProtocol = (folder) => PROTOCOL_FOLDERS.includes(folder);

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
    files: PROTOCOL_FOLDERS,
    rules: {
      'no-restricted-imports': ['error', { paths: protocolPaths, patterns: [substratePattern] }],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use substrate.clock.setTimer.' },
        { name: 'setInterval', message: 'Use substrate.clock.setTimer.' },
        { name: 'setImmediate', message: 'Use substrate.clock.setTimer.' },
        { name: 'performance', message: 'Use substrate.clock.nowMs.' },
        { name: 'process', message: 'Protocol code gets everything from the substrate and its config.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use substrate.clock.wallMs / nowMs.' },
        { object: 'Math', property: 'random', message: 'Use substrate.random for determinism.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Use substrate.clock.wallMs.' },
      ],
    },
  },
  ...Object.entries(LAYERS).map(([folder, patterns]) => ({
    files: [folder],
    rules: {
      'no-restricted-imports': [
        'error',
        isProtocol(folder)
          ? { paths: protocolPaths, patterns: [substratePattern, ...patterns] }
          : { patterns },
      ],
    },
  })),
);
