import type { Command } from 'commander';
import type { LogEnd, LogLine, LogResponse } from '../../api/types.js';
import type { ApiClient } from '../client.js';
import { buildIdArg, commandContext, withClientOptions } from '../client-options.js';
import { ConnectionError } from '../errors.js';
import { formatLogLine, type LogFormat } from '../format/log.js';
import type { Output } from '../output.js';

interface LogsFlags {
  readonly follow?: boolean;
  readonly timestamps?: boolean;
}

/** The server's page size for log reads (the contract's default `limit`). */
const PAGE_BYTES = 1_048_576;

export function registerLogs(program: Command): void {
  withClientOptions(
    program
      .command('logs')
      .description("print a build's log")
      .argument('<build>', 'build id (42 or #42)', buildIdArg)
      .option('-f, --follow', 'keep printing new lines until the build ends')
      .option('--timestamps', 'prefix each line with its time'),
  )
    .addHelpText(
      'after',
      `
Lines written by nightless itself (steps starting, timeouts) are dimmed on a terminal.
With --json, prints the API's JSON (with -f: one {"event","data"} object per line).
The exit code is 0 whatever the build's result; use \`nightless show\` or \`trigger --wait\` for that.

Examples:
  $ nightless logs 42
  $ nightless logs 42 -f --timestamps
  14:02:11 ▶ step 2/3: npm test
  14:02:13 PASS src/app.test.ts`,
    )
    .action(async (id: number, opts: LogsFlags, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const format: LogFormat = { timestamps: opts.timestamps === true, colours: out.colours };
      if (opts.follow === true) await follow(client, out, id, format, json);
      else await printAll(client, out, id, format, json);
    });
}

async function printAll(
  client: ApiClient,
  out: Output,
  id: number,
  format: LogFormat,
  json: boolean,
): Promise<void> {
  const lines: LogLine[] = [];
  let offset = 0;
  let page: LogResponse;
  do {
    page = await client.getJson<LogResponse>(`/api/builds/${id}/log`, {
      offset,
      limit: PAGE_BYTES,
    });
    if (json) lines.push(...page.lines);
    else out.print(...page.lines.map((l) => formatLogLine(l, format)));
    // Stop on a page that made no progress too, so a confused server cannot loop us forever.
    if (page.nextOffset <= offset) break;
    offset = page.nextOffset;
  } while (offset < page.size);
  if (json) out.json({ ...page, lines });
}

async function follow(
  client: ApiClient,
  out: Output,
  id: number,
  format: LogFormat,
  json: boolean,
): Promise<void> {
  const messages = await client.stream(`/api/builds/${id}/log`, { offset: 0, follow: 1 });
  for await (const message of messages) {
    const data = JSON.parse(message.data) as unknown;
    if (json) out.write(`${JSON.stringify({ event: message.event, data })}\n`);
    if (message.event === 'line' && !json) out.print(formatLogLine(data as LogLine, format));
    if (message.event === 'end') {
      if (!json) out.note(out.colours.dim(`build #${id} ${(data as LogEnd).state}`));
      return;
    }
  }
  throw new ConnectionError(`the log stream of build #${id} closed before the build finished`);
}
