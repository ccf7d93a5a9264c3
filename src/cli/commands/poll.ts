import type { Command } from 'commander';
import { commandContext, withClientOptions } from '../client-options.js';
import { ExitCode, UsageError } from '../errors.js';
import type { Colours } from '../format/colour.js';
import { formatClock, formatRelative, formatTimestamp } from '../format/time.js';

/** `POST /api/sources/:name/poll` (the poller's `PollOutcome`). */
export interface PollResponse {
  readonly poll: {
    readonly source: string;
    readonly ok: boolean;
    readonly error: string | null;
    readonly newVersions: number;
    readonly nextCheckAt: number | null;
  };
}

/** `POST /api/sources/poll`: every source with a fallback poll, by name. */
export interface PollAllResponse {
  readonly polls: ReadonlyArray<PollResponse['poll']>;
}

/** A check runs `git ls-remote` or a GET with the server's 30 s limit: wait a little longer. */
const POLL_TIMEOUT_MS = 45_000;
/** `--all` runs a few checks at a time: give a large pipeline a few minutes. */
const POLL_ALL_TIMEOUT_MS = 300_000;

export function registerPoll(program: Command): void {
  withClientOptions(
    program
      .command('poll')
      .description('check a git or http source for a new version now (the fallback check)')
      .argument('[source]', 'source name')
      .option('--all', 'check every source that has a fallback poll'),
  )
    .addHelpText(
      'after',
      `
Runs the source's fallback check at once (git ls-remote, or a conditional GET) instead of
waiting for its next scheduled one. A version found this way is scheduled like any other; one
that no event announced counts as a missed event (see \`nightless sources\`). Exit 1 when the
check failed. Without --timeout, waits up to ${POLL_TIMEOUT_MS / 1000}s for the check.

--all checks every source that has a fallback poll (after a webhook outage, say), a few at a
time, sources on one git repository with one ls-remote; exit 1 when any check failed. Without
--timeout it waits up to ${POLL_ALL_TIMEOUT_MS / 60_000} minutes.

Examples:
  $ nightless poll app
  app: ok, 1 new version; next check 15:40:12 (in 9m58s)
  $ nightless poll dataset
  dataset: check failed: GET https://data.example.org/latest.parquet: 503; next check 15:31:02 (in 1m)
  $ nightless poll app --json | jq .poll.newVersions
  $ nightless poll --all
  app: ok, no new version; next check 15:40:12 (in 9m58s)
  dataset: ok, 1 new version; next check 15:40:13 (in 9m59s)
  2 sources checked, 0 failed`,
    )
    .action(async (source: string | undefined, opts: { all?: boolean }, cmd: Command) => {
      if ((source === undefined) === !opts.all)
        throw new UsageError('give either a source name or --all');
      if (cmd.getOptionValueSource('timeout') === 'default')
        cmd.setOptionValue('timeout', opts.all ? POLL_ALL_TIMEOUT_MS : POLL_TIMEOUT_MS);
      const { client, out, json } = commandContext(cmd);
      if (source === undefined) {
        const body = await client.postJson<PollAllResponse>('/api/sources/poll', {});
        const failed = body.polls.filter((p) => !p.ok).length;
        if (json) out.json(body);
        else {
          for (const p of body.polls) out.print(formatPoll(p, out.now(), out.colours));
          out.print(`${body.polls.length} sources checked, ${failed} failed`);
        }
        if (failed > 0) throw new ExitCode(1);
        return;
      }
      const body = await client.postJson<PollResponse>(
        `/api/sources/${encodeURIComponent(source)}/poll`,
        {},
      );
      if (json) out.json(body);
      else out.print(formatPoll(body.poll, out.now(), out.colours));
      if (!body.poll.ok) throw new ExitCode(1);
    });
}

/** `app: ok, 1 new version; next check 15:40:12 (in 9m58s)` or `app: check failed: …; …`. */
function formatPoll(poll: PollResponse['poll'], now: number, c: Colours): string {
  const result = poll.ok
    ? `${c.green('ok')}, ${poll.newVersions === 0 ? 'no new version' : `${poll.newVersions} new version${poll.newVersions === 1 ? '' : 's'}`}`
    : `${c.red('check failed')}: ${poll.error ?? 'unknown error'}`;
  return `${poll.source}: ${result}; ${nextCheck(poll.nextCheckAt, now)}`;
}

function nextCheck(at: number | null, now: number): string {
  if (at === null) return 'no scheduled check (fallback_poll: off)';
  const sameDay = new Date(at).toDateString() === new Date(now).toDateString();
  const when = sameDay ? formatClock(at) : formatTimestamp(at);
  return `next check ${when} (${at <= now ? 'due now' : formatRelative(at, now)})`;
}
