import { Command } from 'commander';
import { packageVersion } from './package-version.js';
type Register = (program: Command) => void;

/**
 * Every subcommand, in help order, with the module that defines it. Only the module of the
 * command being run is loaded (`status` must not pay for the pipeline schema, YAML and zod
 * that `check` needs): a cold start is mostly module loading.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<Register>]> = [
  ['serve', async () => (await import('./commands/serve.js')).registerServe],
  ['migrate-store', async () => (await import('./commands/migrate-store.js')).registerMigrateStore],
  ['check', async () => (await import('./commands/check.js')).registerCheck],
  ['status', async () => (await import('./commands/status.js')).registerStatus],
  ['builds', async () => (await import('./commands/builds.js')).registerBuilds],
  ['show', async () => (await import('./commands/show.js')).registerShow],
  ['logs', async () => (await import('./commands/logs.js')).registerLogs],
  ['trigger', async () => (await import('./commands/trigger.js')).registerTrigger],
  ['rebuild', async () => (await import('./commands/rebuild.js')).registerRebuild],
  ['cancel', async () => (await import('./commands/cancel.js')).registerCancel],
  ['approve', async () => (await import('./commands/approve.js')).registerApprove],
  ['sources', async () => (await import('./commands/sources.js')).registerSources],
  ['slo', async () => (await import('./commands/slo.js')).registerSlo],
  ['poll', async () => (await import('./commands/poll.js')).registerPoll],
  ['why', async () => (await import('./commands/why.js')).registerWhy],
  ['trace', async () => (await import('./commands/trace.js')).registerTrace],
  ['artifact', async () => (await import('./commands/artifact.js')).registerArtifact],
  ['hook', async () => (await import('./commands/hook.js')).registerHook],
  ['deliveries', async () => (await import('./commands/deliveries.js')).registerDeliveries],
  ['token', async () => (await import('./commands/token.js')).registerToken],
  ['audit', async () => (await import('./commands/audit.js')).registerAudit],
  ['agent', async () => (await import('./commands/agent.js')).registerAgent],
  ['agents', async () => (await import('./commands/agents.js')).registerAgents],
  ['agent-token', async () => (await import('./commands/agents.js')).registerAgentToken],
];

const EXAMPLES = `
Examples:
  $ nightless serve --demo                 start a server with a demo pipeline
  $ nightless status                       every job and its latest build
  $ nightless trigger build --wait         build now, exit 0 if it passed
  $ nightless logs 42 -f                   follow a build's log
  $ nightless why build 3f2a1c0            why did (or didn't) this commit build?
  $ nightless trace app@3f2a1c0 --watch    where is my change now?

Client commands talk to the server at --server URL, or $NIGHTLESS_SERVER, or
http://127.0.0.1:8080. Commands send the token from --token, or
$NIGHTLESS_TOKEN, or .nightless/token (written by \`nightless serve\`).
Set NIGHTLESS_DEBUG=1 to see stack traces; NO_COLOR=1 to turn colours off.`;

/**
 * The `nightless` command. With `argv`, only the subcommand it names is registered when it
 * names one (help, a typo or no command: all of them, so help and suggestions are complete;
 * `--version`: none).
 * Errors are thrown, never turned into `process.exit` (`exitOverride`), so `run.ts` alone
 * decides what is printed and the exit code.
 */
export async function createProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('nightless')
    .description('event-driven builds: build on each change, never the same inputs twice')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    // Options belong to the command they follow, so `builds --version V` is the filter, not -V.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(text.replace(/^error: /, 'nightless: ')),
    })
    .addHelpText('after', EXAMPLES);

  // The program has no options of its own but -V/-h: the first argument names the command.
  const named = argv?.[2];
  if (named === '-V' || named === '--version') return program;
  const only = COMMANDS.find(([name]) => name === named);
  // Subcommands inherit exitOverride/configureOutput from the program: register them after.
  const registers = await Promise.all((only ? [only] : COMMANDS).map(([, load]) => load()));
  for (const register of registers) register(program);
  return program;
}
