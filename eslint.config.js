// @ts-check
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/** Dependencies point inward (DESIGN.md "Layout"): core knows nothing of adapters. */
const layerZones = [
  {
    target: './src/core',
    from: './src',
    except: ['./core'],
    message: 'src/core is pure: it imports nothing from the adapters.',
  },
  {
    target: './src/config',
    from: [
      './src/store',
      './src/bus',
      './src/executor',
      './src/server',
      './src/cli',
      './src/ingest',
      './src/reporters',
      './src/agent',
    ],
    message: 'config parses the pipeline file; it knows no adapter.',
  },
  { target: './src/agent', from: './src/server', message: 'agent never imports server.' },
];

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.nightless/', 'web/dist/', 'scratch/'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      'import-x/no-cycle': ['error', { maxDepth: 10 }],
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The core is deterministic (CONVENTIONS.md 2): clock, randomness, timers and I/O are injected.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['Date', 'process', 'performance'].map((name) => ({
          name,
          message: `src/core is pure: take ${name === 'process' ? 'what you need' : 'the clock'} as a parameter.`,
        })),
        ...['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask'].map((name) => ({
          name,
          message: 'src/core is pure: timers belong to the shell that calls it.',
        })),
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'src/core is pure: take the random source as a parameter.',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(node:)?(fs|fs/promises|net|http|https|child_process|dgram|tls|timers)$',
              message: 'src/core is pure: I/O belongs to the adapters.',
            },
          ],
        },
      ],
    },
  },
);
