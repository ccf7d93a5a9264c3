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
    // The dashboard is a client of the public API: it may take the server's response *types*
    // (src/server/schemas), never its code — nothing of the server may reach the bundle.
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/**'],
              allowTypeImports: true,
              message: 'web/ imports only types from src/ (import type …).',
            },
          ],
        },
      ],
    },
  },
  {
    // import-x's legacy resolver cannot load Vite's type graph; a build config has no cycles to find.
    files: ['web/vite.config.ts'],
    rules: { 'import-x/no-cycle': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
