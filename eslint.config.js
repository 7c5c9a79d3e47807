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
      'no-restricted-imports': [
        'error',
        {
          paths: nodeIo.flatMap((m) => [
            { name: m, message: 'Protocol code takes I/O from the injected Substrate.' },
            { name: `node:${m}`, message: 'Protocol code takes I/O from the injected Substrate.' },
          ]),
          patterns: [
            { group: ['**/substrate/real/**', '**/substrate/real'], message: 'Protocol code must not import a concrete substrate.' },
          ],
        },
      ],
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
);
