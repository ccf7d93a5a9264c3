import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { cliInvocation, shellWord } from '../cli-invocation.js';
import { parseDuration } from '../../config/durations.js';
import { addWorkspaceFlags, workspaceOptions, type WorkspaceFlags } from '../workspace-flags.js';

interface ServeOptions extends WorkspaceFlags {
  config?: string;
  port: number;
  host: string;
  dataDir: string;
  slots: number;
  demo?: boolean;
  readAuth?: boolean;
  publicRead?: boolean;
  publicUrl?: string;
  logLevel: string;
  watch: boolean;
  gitHelper: boolean;
  lostRetries: number;
  database?: string;
  bus?: string;
  agentLease?: number;
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run the nightless server: ingest events, schedule and run builds, serve the API')
    .option('-c, --config <file>', 'pipeline file (default: nightless.yaml)')
    .option('-p, --port <port>', 'HTTP port', int('port'), 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '-d, --data-dir <dir>',
      'state directory (database, logs, artifacts, workspaces)',
      '.nightless',
    )
    .option(
      '--database <url>',
      'PostgreSQL store, postgres://user@host:5432/db (default: $NIGHTLESS_DATABASE_URL, else SQLite in the data directory)',
    )
    .option('--slots <n>', 'builds running at once', int('slots'), availableParallelism())
    .option('--demo', 'serve a demo pipeline over a demo repository created in the data directory')
    .option('--read-auth', 'require a read token for reads even on a loopback address')
    .option(
      '--public-read',
      'leave reads (API, logs, artifacts, metrics) open on a non-loopback address',
    )
    .option('--public-url <url>', 'base URL used in build links (default: the listen address)')
    .option(
      '--lost-retries <n>',
      'times a build lost to a server crash is re-queued',
      int('lost-retries'),
      1,
    )
    .addOption(
      new Option(
        '--bus <url>',
        'RabbitMQ for wake-ups between server replicas (amqp://user:pass@host:5672/vhost)',
      )
        .env('NIGHTLESS_BUS_URL')
        .argParser(amqpUrl),
    )
    .option(
      '--agent-lease <duration>',
      'how long a build agent (or a replica, for its own slots) keeps a build without renewing its lease before it is lost (default 30s)',
      leaseMs,
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--no-watch', 'do not reload when the pipeline file changes (SIGHUP still reloads)')
    .option('--no-git-helper', 'spawn git from the server process itself, not a helper process');
  addWorkspaceFlags(command)
    .addHelpText(
      'after',
      `
Examples:
  $ nightless serve --demo                 # a demo repository and pipeline, builds within seconds
  $ nightless serve -c ci/nightless.yaml --port 9000 --slots 4
  $ kill -HUP <pid>                        # reload the pipeline file

The bootstrap token (scope admin) is NIGHTLESS_TOKEN, or generated on first start, printed once
and saved to <data-dir>/token (mode 0600) for the local CLI; \`nightless token create\` issues
scoped ones. On a non-loopback --host every read needs a read token unless --public-read.`,
    )
    .action(async (opts: ServeOptions) => {
      await serve(opts);
    });
}

async function serve(opts: ServeOptions): Promise<void> {
  const database = opts.database ?? (process.env.NIGHTLESS_DATABASE_URL || undefined);
  if (database) {
    const { parseDatabaseUrl } = await import('../../app/open-store.js');
    try {
      parseDatabaseUrl(database);
    } catch (err) {
      process.stderr.write(`nightless serve: --database: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
  }
  // The lock comes first, before anything writes into the data directory (the demo does) and
  // before the server's heavy imports: a second server is refused within a fraction of a second.
  const { lockDataDir, DataDirLockedError } = await import('../../app/data-dir-lock.js');
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  let lock;
  try {
    lock = await lockDataDir(dataDir);
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`nightless serve: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  // The demo's repository is made (git processes) while the server's modules load.
  const demoReady = opts.demo
    ? import('../../app/demo.js').then(({ prepareDemo }) => prepareDemo(opts.dataDir))
    : null;
  demoReady?.catch(() => undefined); // awaited below; not unhandled while the imports load
  // Loaded here, not at the top: client commands should not pay for the server's imports.
  const [{ createLogger }, { startNightless, readsNeedToken }, { ConfigError }] = await Promise.all(
    [
      import('../../app/logger.js'),
      import('../../app/start-nightless.js'),
      import('../../config/index.js'),
    ],
  );
  const logger = createLogger(opts.logLevel);
  let configPath = opts.config ?? 'nightless.yaml';
  let demoWorkTree: string | null = null;
  let demoBareRepo: string | null = null;
  if (demoReady) {
    const demo = await demoReady.catch(async (err: unknown) => {
      await lock.release();
      throw err;
    });
    configPath = demo.configPath;
    demoWorkTree = demo.workTree;
    demoBareRepo = demo.bareRepo;
  }
  let app;
  try {
    app = await startNightless({
      lock,
      configPath,
      configDisplayName: opts.demo ? relative(process.cwd(), configPath) : configPath,
      dataDir: opts.dataDir,
      host: opts.host,
      port: opts.port,
      slots: opts.slots,
      logger,
      readAuth: opts.readAuth ?? false,
      publicRead: opts.publicRead ?? false,
      watchConfig: opts.watch,
      // Commander's `--no-…` flag is `true` unless given: only the opt-out is passed on.
      ...(opts.gitHelper ? {} : { gitHelper: false }),
      lostRetries: opts.lostRetries,
      ...(database ? { database } : {}),
      ...(opts.agentLease === undefined ? {} : { agentLeaseMs: opts.agentLease }),
      ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
      ...(opts.bus ? { busUrl: opts.bus } : {}),
      workspaces: workspaceOptions(opts),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  // The demo is event-driven like a real setup: its repository notifies this server on push.
  let demoHook: string | null = null;
  if (demoBareRepo) {
    const [{ installHook }, { ensureHookToken }, { storeHookTokenIssuer }] = await Promise.all([
      import('../../ingest/git-hooks/install-hook.js'),
      import('../../ingest/git-hooks/hook-token.js'),
      import('../../app/hook-token-issuer.js'),
    ]);
    try {
      // The demo hook gets a token that can only announce pushes, never the admin token.
      const token = await ensureHookToken(storeHookTokenIssuer(app.access), demoBareRepo);
      const hook = await installHook(demoBareRepo, { serverUrl: app.url, tokenFile: token.file });
      demoHook = hook.path;
    } catch (err) {
      logger.warn({ err }, 'cannot install the demo git hook; the fallback poll finds pushes');
    }
  }
  process.stdout.write(
    `${bannerLines({
      app,
      opts,
      configPath,
      demoWorkTree,
      demoHook,
      readsProtected: readsNeedToken(opts)
        ? opts.readAuth
          ? '--read-auth'
          : `listening on ${opts.host}`
        : null,
    }).join('\n')}\n`,
  );

  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    void app.stop().then(
      () => {
        process.exitCode ??= 0;
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => void app.reload());
}

const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/**
 * What the server prints on start. Every command in it works when pasted, in order, into a
 * shell in the directory the server was started from: the CLI as it can be run here
 * (`cliInvocation`), `--server`/`--data-dir` only when not the defaults, and the demo push in a
 * subshell with an absolute path so the following commands still run from the same place.
 */
function bannerLines(b: {
  app: {
    url: string;
    token: { generated: string | null; source: string };
    engine: { pipeline: { jobs: ReadonlyMap<string, unknown> } };
  };
  opts: ServeOptions;
  configPath: string;
  demoWorkTree: string | null;
  demoHook: string | null;
  /** Why reads need a `read` token here, or null when they are open. */
  readsProtected: string | null;
}): string[] {
  const { app, opts } = b;
  const jobs = app.engine.pipeline.jobs.size;
  const cli = cliInvocation({ cwd: process.cwd(), path: process.env.PATH });
  const flags = [
    app.url === DEFAULT_SERVER ? '' : ` --server ${app.url}`,
    resolve(opts.dataDir) === resolve('.nightless') ? '' : ` --data-dir ${shellWord(opts.dataDir)}`,
  ].join('');
  const lines = [
    `nightless is serving ${jobs} job${jobs === 1 ? '' : 's'} from ${b.configPath} at ${app.url}`,
    app.token.generated
      ? `API token (shown once; saved to ${opts.dataDir}/token for the local CLI): ${app.token.generated}`
      : `API token: from ${app.token.source === 'env' ? 'NIGHTLESS_TOKEN' : `${opts.dataDir}/token`}`,
  ];
  if (b.readsProtected !== null)
    lines.push(`Reads need a read token here (${b.readsProtected}; see docs/security.md).`);
  if (b.demoHook !== null) lines.push(`git hook installed: ${b.demoHook} (a push builds at once)`);
  const tries: Array<[string, string]> = [
    [`${cli} status${flags}`, 'jobs and their latest builds'],
    [`${cli} builds${flags}`, 'the build list'],
    [`${cli} logs 1${flags}`, "a build's log"],
  ];
  if (b.demoWorkTree !== null) {
    tries.push(
      [
        `(cd ${shellWord(b.demoWorkTree)} && echo '# change' >> README.md && git commit -qam change && git push -q)`,
        'builds at once',
      ],
      [`${cli} why integration${flags}`, '"identical output": nothing downstream runs'],
    );
  }
  const width = Math.max(...tries.map(([cmd]) => cmd.length));
  lines.push(
    'Try next: (in a second terminal, from this directory)',
    ...tries.map(([cmd, what]) => `  ${cmd.padEnd(width)}  # ${what}`),
  );
  return lines;
}

/** `--bus`: an AMQP URL, refused before anything connects; the message never echoes a password. */
function amqpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be a URL like amqp://user:pass@host:5672/vhost');
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:')
    throw new InvalidArgumentError(`must start with amqp:// or amqps://, not ${url.protocol}//`);
  return value;
}

/** `--agent-lease`: at least a second, or heartbeats (every third of it) could not keep up. */
function leaseMs(text: string): number {
  const d = parseDuration(text);
  if (!d.ok || d.ms < 1000)
    throw new InvalidArgumentError(
      `--agent-lease: ${d.ok ? 'at least 1s' : d.reason} (got ${JSON.stringify(text)})`,
    );
  return d.ms;
}

function int(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a whole number`);
    return n;
  };
}
