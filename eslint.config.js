// @ts-check
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

/**
 * What each folder of src/ may import besides itself — the "may import" column of
 * docs/architecture.md, which a test keeps equal to this table. Dependencies point inward
 * (DESIGN.md "Layout"): adapters import core and ports, never each other; only the composition
 * root (app/) and the test harness (testing/) see everything. Entries are folders or single files
 * under src/.
 */
export const STORE_PORTS = [
  'store/ports.ts',
  'store/ports', // the per-port modules, once store/ports.ts is split
  'store/access-ports.ts',
  'store/installation-id.ts',
];
export const MAY_IMPORT = {
  core: [],
  async: [],
  // Programs started from a small helper process instead of the server (a fork of the server
  // blocks its event loop): git for mirrors, start-early fetches and fallback checks.
  spawn: [],
  artifacts: ['core'],
  net: ['core'],
  config: ['core', 'net'],
  executor: ['core', 'async', 'artifacts', 'spawn'],
  store: ['core', 'executor/port.ts'],
  // Who runs the once-per-installation loops (scheduler, relay…) among server replicas.
  leader: [],
  bus: ['core', ...STORE_PORTS],
  scheduler: ['core', 'async', ...STORE_PORTS],
  runner: ['core', 'async', 'executor/port.ts', ...STORE_PORTS],
  relay: ['core', 'async', 'bus/port.ts', ...STORE_PORTS],
  read: ['core', ...STORE_PORTS],
  // The API contract: error codes, build links, response types (derived from the server's schemas).
  api: ['core', 'server/schemas'],
  maintenance: ['core', 'artifacts', ...STORE_PORTS],
  ingest: ['core', 'api', 'async', 'config', 'net', 'spawn', ...STORE_PORTS],
  reporters: [
    'core',
    'async',
    'net',
    'bus/port.ts',
    'executor/port.ts',
    'executor/format-duration.ts',
    ...STORE_PORTS,
  ],
  server: [
    'core',
    'api',
    'config',
    'read',
    'bus/port.ts',
    'executor/port.ts',
    'executor/log-reader.ts',
    'ingest/amqp/queue-name.ts',
    ...STORE_PORTS,
  ],
  agent: [
    'core',
    'async',
    'artifacts',
    'config',
    'net',
    'executor',
    'runner/port.ts',
    ...STORE_PORTS,
  ],
  cli: [
    'core',
    'api',
    'config',
    'app',
    'agent',
    'executor/port.ts',
    'ingest/git-hooks',
    ...STORE_PORTS,
  ],
  // The composition root wires every adapter, but never the test harness.
  app: ['*'],
  // The harness is a product for tests (CONVENTIONS §11): it may use everything.
  testing: null,
};

/** One `no-restricted-paths` zone per folder: everything under src/ except what it may import. */
const layerZones = Object.entries(MAY_IMPORT).flatMap(([folder, allowed]) => {
  if (allowed === null) return [];
  if (allowed.includes('*'))
    return [
      {
        target: `./src/${folder}`,
        from: './src/testing',
        message: `src/${folder} must not import the test harness (src/testing).`,
      },
    ];
  return [
    {
      target: `./src/${folder}`,
      from: './src',
      except: [folder, ...allowed].map((p) => `./${p}`),
      message:
        `src/${folder} may import only ${allowed.length === 0 ? 'itself' : allowed.join(', ')} ` +
        '(docs/architecture.md, "Folders").',
    },
  ];
});

/** src/core is pure (DESIGN.md rule 9): no clock, randomness, process, timers or I/O modules. */
const IMPURE_MODULES = ['fs', 'net', 'child_process', 'http', 'https', 'dgram', 'tls', 'timers'];
const corePurity = {
  files: ['src/core/**/*.ts'],
  rules: {
    'no-restricted-globals': [
      'error',
      ...['Date', 'process', 'performance'].map((name) => ({
        name,
        message: `src/core is pure: pass ${name === 'process' ? 'values' : 'the time (now)'} in instead.`,
      })),
      ...[
        'setTimeout',
        'setInterval',
        'setImmediate',
        'clearTimeout',
        'clearInterval',
        'clearImmediate',
        'queueMicrotask',
      ].map((name) => ({ name, message: 'src/core is pure: timers belong to the shell.' })),
    ],
    'no-restricted-properties': [
      'error',
      {
        object: 'Math',
        property: 'random',
        message: 'src/core is pure: take a random source as a parameter.',
      },
    ],
    'no-restricted-imports': [
      'error',
      {
        paths: IMPURE_MODULES.flatMap((m) => [m, `node:${m}`]).map((name) => ({
          name,
          message: 'src/core is pure: no I/O.',
        })),
        patterns: [
          {
            group: IMPURE_MODULES.flatMap((m) => [`${m}/*`, `node:${m}/*`]),
            message: 'src/core is pure: no I/O.',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.nightless/', 'web/dist/', 'scratch/'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', 'bin/*.js', 'scripts/*.mjs', 'test/cli/helpers/*.mjs'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Sources import `./x.js` for `./x.ts` (NodeNext): without the alias nothing resolves and
      // the path rules below see no import at all.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.mts', '.js', '.mjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] },
        }),
      ],
    },
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
  corePurity,
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
    // CONVENTIONS.md §16, small files: a source file past 400 lines is split along a seam. Blank
    // lines and comments count, so squeezing them out is no way around it.
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }] },
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
