import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';

interface ServeOptions {
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
  lostRetries: number;
}

export function registerServe(program: Command): void {
  program
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
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--no-watch', 'do not reload when the pipeline file changes (SIGHUP still reloads)')
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
  // Loaded here, not at the top: client commands should not pay for the server's imports.
  const [{ prepareDemo }, { createLogger }, { startNightless, readsNeedToken }, { ConfigError }] =
    await Promise.all([
      import('../../app/demo.js'),
      import('../../app/logger.js'),
      import('../../app/start-nightless.js'),
      import('../../config/index.js'),
    ]);
  const logger = createLogger(opts.logLevel);
  let configPath = opts.config ?? 'nightless.yaml';
  let demoWorkTree: string | null = null;
  if (opts.demo) {
    const demo = await prepareDemo(opts.dataDir).catch(async (err: unknown) => {
      await lock.release();
      throw err;
    });
    configPath = demo.configPath;
    demoWorkTree = demo.workTree;
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
      lostRetries: opts.lostRetries,
      ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  const lines = [
    `nightless is serving ${app.engine.pipeline.jobs.size} job(s) from ${configPath} at ${app.url}`,
    app.token.generated
      ? `API token (shown once; saved to ${opts.dataDir}/token for the local CLI): ${app.token.generated}`
      : `API token: from ${app.token.source === 'env' ? 'NIGHTLESS_TOKEN' : `${opts.dataDir}/token`}`,
    ...(readsNeedToken(opts)
      ? [
          `Reads need a read token here (${opts.readAuth ? '--read-auth' : `listening on ${opts.host}`}; see docs/security.md).`,
        ]
      : []),
    'Try next:',
    `  nightless status --server ${app.url}`,
    `  nightless builds --server ${app.url}`,
  ];
  if (demoWorkTree) {
    lines.push(
      `  cd ${demoWorkTree} && echo '# change' >> README.md && git commit -qam change && git push -q   # a new build within seconds`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);

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

function int(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a whole number`);
    return n;
  };
}
