import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAgent } from './commands/agent.js';
import { registerAgents } from './commands/agents.js';
import { registerArtifact } from './commands/artifact.js';
import { registerAudit } from './commands/audit.js';
import { registerBuilds } from './commands/builds.js';
import { registerCancel } from './commands/cancel.js';
import { registerCheck } from './commands/check.js';
import { registerDeliveries } from './commands/deliveries.js';
import { registerHook } from './commands/hook.js';
import { registerLogs } from './commands/logs.js';
import { registerPoll } from './commands/poll.js';
import { registerRebuild } from './commands/rebuild.js';
import { registerServe } from './commands/serve.js';
import { registerShow } from './commands/show.js';
import { registerSources } from './commands/sources.js';
import { registerStatus } from './commands/status.js';
import { registerToken } from './commands/token.js';
import { registerTrace } from './commands/trace.js';
import { registerTrigger } from './commands/trigger.js';
import { registerWhy } from './commands/why.js';

/** package.json sits two levels up from both src/cli/program.ts and dist/cli/program.js. */
function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const pkg = JSON.parse(text) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

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
 * The `nightless` command with every subcommand registered. Errors are thrown, never turned into
 * `process.exit` (`exitOverride`), so `run.ts` alone decides what is printed and the exit code.
 */
export function createProgram(): Command {
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

  // Subcommands inherit exitOverride/configureOutput from the program: register them after.
  registerServe(program);
  registerCheck(program);
  registerStatus(program);
  registerBuilds(program);
  registerShow(program);
  registerLogs(program);
  registerTrigger(program);
  registerRebuild(program);
  registerCancel(program);
  registerSources(program);
  registerPoll(program);
  registerWhy(program);
  registerTrace(program);
  registerArtifact(program);
  registerHook(program);
  registerDeliveries(program);
  registerToken(program);
  registerAudit(program);
  registerAgent(program);
  registerAgents(program);
  return program;
}
