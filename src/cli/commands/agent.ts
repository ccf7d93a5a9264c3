import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { addWorkspaceFlags, workspaceOptions, type WorkspaceFlags } from '../workspace-flags.js';
import { labelsArg } from './agents.js';
import { packageVersion } from '../package-version.js';

interface AgentFlags extends WorkspaceFlags {
  server: string[];
  name?: string;
  slots: number;
  labels: string[];
  workDir: string;
  logLevel: string;
  claimWait?: number;
}

function serverArg(value: string, previous: string[] = []): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`--server ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError(`--server ${value}: use an http:// or https:// URL`);
  return [...previous, value.replace(/\/+$/, '')];
}

function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a whole number of at least 1`);
    return n;
  };
}

/** `nightless agent`: run builds for a server on this machine. */
export function registerAgent(program: Command): void {
  const command = program
    .command('agent')
    .description('run builds for a nightless server on this machine (a build agent)')
    .requiredOption(
      '--server <url>',
      'server URL; repeat for replicas (failover in order)',
      serverArg,
    )
    .option('--name <name>', "the agent's name, shown as builds' worker (default: host name)")
    .option('--slots <n>', 'builds running at once', positive('slots'), 1)
    .option(
      '--labels <labels>',
      'labels jobs may ask for with runs_on (comma-separated)',
      labelsArg,
      [],
    )
    .option('--work-dir <dir>', 'workspaces, git mirrors, logs, results', '.nightless-agent')
    .option('--claim-wait <ms>', 'how long one claim waits on the server', positive('claim-wait'))
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info');
  addWorkspaceFlags(command)
    .addHelpText(
      'after',
      `
The agent token (scope agent, \`nightless agent-token create\`) is NIGHTLESS_AGENT_TOKEN.

Examples:
  $ NIGHTLESS_AGENT_TOKEN=nl_… nightless agent --server https://ci.example.com --name arm1 \\
      --slots 4 --labels linux,arm64 --work-dir /var/lib/nightless-agent`,
    )
    .action(async (flags: AgentFlags) => {
      const token = process.env.NIGHTLESS_AGENT_TOKEN;
      if (!token) {
        process.stderr.write(
          'nightless agent: set NIGHTLESS_AGENT_TOKEN to an agent token (nightless agent-token create NAME)\n',
        );
        process.exitCode = 2;
        return;
      }
      const [{ Agent }, { createLogger }] = await Promise.all([
        import('../../agent/agent.js'),
        import('../../app/logger.js'),
      ]);
      const logger = createLogger(flags.logLevel);
      const agent = new Agent({
        servers: flags.server,
        token,
        name: flags.name ?? hostname(),
        slots: flags.slots,
        labels: flags.labels,
        workDir: resolve(flags.workDir),
        version: packageVersion(),
        logger,
        ...(flags.claimWait === undefined ? {} : { claimWaitMs: flags.claimWait }),
        workspaces: workspaceOptions(flags),
      });
      await agent.start();
      await new Promise<void>((done) => {
        let stops = 0;
        const stop = () => {
          stops++;
          if (stops > 1) process.exit(1);
          logger.info('stopping: no new claims; running builds finish first (again to quit now)');
          void agent.stop().then(done);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
