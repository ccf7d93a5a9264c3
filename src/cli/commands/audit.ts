import type { Command } from 'commander';
import {
  commandContext,
  lifetimeArg,
  positiveIntArg,
  withClientOptions,
} from '../client-options.js';
import type { Colours } from '../format/colour.js';
import { renderTable } from '../format/table.js';
import { formatTimestamp } from '../format/time.js';

/** An entry of `GET /api/audit` (src/server/routes/audit.ts). */
export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly address: string;
  readonly action: string;
  readonly target: Readonly<Record<string, unknown>>;
  readonly status: number;
  readonly errorCode: string | null;
}

export function registerAudit(program: Command): void {
  withClientOptions(
    program
      .command('audit')
      .description('who triggered, cancelled, retried or changed tokens, when, from where (admin)')
      .option(
        '--since <duration>',
        'only the last 1d, 2h, … (default: everything kept)',
        lifetimeArg,
      )
      .option('--limit <n>', 'at most this many entries', positiveIntArg, 100),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ nightless audit --since 1d
  $ nightless audit --json | jq '.entries[] | select(.status >= 400)'`,
    )
    .action(async (flags: { since?: number; limit: number }, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.getJson<{ entries: AuditEntry[] }>('/api/audit', {
        since: flags.since === undefined ? undefined : out.now() - flags.since,
        limit: flags.limit,
      });
      if (json) return out.json(body);
      out.print(...formatAudit(body.entries, out.colours));
    });
}

function formatAudit(entries: readonly AuditEntry[], c: Colours): string[] {
  if (entries.length === 0) return ['no audited actions in that period'];
  return renderTable(
    ['WHEN', 'WHO', 'FROM', 'ACTION', 'TARGET', 'OUTCOME'],
    entries.map((e) => [
      formatTimestamp(e.at),
      e.actor,
      e.address,
      e.action,
      Object.entries(e.target)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' '),
      e.status < 400 ? c.green(String(e.status)) : c.red(`${e.status} ${e.errorCode ?? ''}`.trim()),
    ]),
  );
}
