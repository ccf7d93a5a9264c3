import type { Command } from 'commander';
import { commandContext, positiveIntArg, withClientOptions } from '../client-options.js';
import type { Colours } from '../format/colour.js';
import { renderTable } from '../format/table.js';
import { formatRelative } from '../format/time.js';

/** `GET /api/deliveries` (see src/reporters/delivery-routes.ts). */
export interface DeliveriesResponse {
  readonly deliveries: ReadonlyArray<{
    readonly id: number;
    readonly outboxId: number;
    readonly target: string;
    readonly state: 'pending' | 'delivered' | 'dead';
    readonly attempts: number;
    readonly nextAttemptAt: number | null;
    readonly lastError: string | null;
    readonly createdAt: number;
    readonly deliveredAt: number | null;
    readonly buildId: number;
    readonly type: string;
  }>;
  readonly targets: ReadonlyArray<{
    readonly target: string;
    readonly kind: string;
    readonly description: string | null;
    readonly active: boolean;
    readonly position: number;
    readonly behind: number;
    readonly lastError: string | null;
  }>;
}

interface DeliveriesFlags {
  readonly dead?: boolean;
  readonly retry?: number;
  readonly build?: number;
  readonly limit: number;
}

export function registerDeliveries(program: Command): void {
  withClientOptions(
    program
      .command('deliveries')
      .description('report targets and their deliveries; retry dead ones')
      .option('--dead', 'only deliveries that ran out of attempts')
      .option('--retry <id>', 'send a dead delivery again (needs the token)', positiveIntArg)
      .option('--build <id>', 'only deliveries of this build', positiveIntArg)
      .option('--limit <n>', 'at most this many deliveries', positiveIntArg, 50),
  )
    .addHelpText(
      'after',
      `
Every report target (amqp, webhook, commit_status) reads the outbox in order; "behind" counts
the events it has not delivered yet (a broker that is down shows here). Webhook and commit-status
deliveries are retried with backoff; after max_attempts they are dead and wait for --retry.

Examples:
  $ nightless deliveries
  $ nightless deliveries --dead
  $ nightless deliveries --retry 17`,
    )
    .action(async (flags: DeliveriesFlags, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      if (flags.retry !== undefined) {
        const body = await client.postJson<{ delivery: DeliveriesResponse['deliveries'][number] }>(
          `/api/deliveries/${flags.retry}/retry`,
          {},
        );
        if (json) return out.json(body);
        out.print(
          `delivery ${body.delivery.id} (build #${body.delivery.buildId} ${body.delivery.type}) queued for another try`,
        );
        return;
      }
      const body = await client.getJson<DeliveriesResponse>('/api/deliveries', {
        state: flags.dead ? 'dead' : undefined,
        build: flags.build,
        limit: flags.limit,
      });
      if (json) return out.json(body);
      out.print(...formatDeliveries(body, out.now(), out.colours));
    });
}

function formatDeliveries(body: DeliveriesResponse, now: number, c: Colours): string[] {
  const lines: string[] = [];
  if (body.targets.length === 0) lines.push('no report targets (see `reports:` in docs/events.md)');
  else
    lines.push(
      ...renderTable(
        ['TARGET', 'BEHIND', 'STATUS'],
        body.targets.map((t) => [
          `${t.description ?? t.target}${t.active ? '' : c.dim(' (removed)')}`,
          String(t.behind),
          t.lastError ? c.red(t.lastError) : c.green('ok'),
        ]),
        { alignRight: [1] },
      ),
    );
  lines.push('');
  if (body.deliveries.length === 0) {
    lines.push('no deliveries');
    return lines;
  }
  lines.push(
    ...renderTable(
      ['ID', 'BUILD', 'EVENT', 'TARGET', 'STATE', 'TRIES', 'WHEN', 'ERROR'],
      body.deliveries.map((d) => [
        String(d.id),
        `#${d.buildId}`,
        d.type,
        d.target,
        d.state === 'dead'
          ? c.red('dead')
          : d.state === 'pending'
            ? c.yellow('pending')
            : c.green('delivered'),
        String(d.attempts),
        d.state === 'pending' && d.nextAttemptAt !== null
          ? `next ${formatRelative(d.nextAttemptAt, now)}`
          : formatRelative(d.deliveredAt ?? d.createdAt, now),
        d.lastError ?? '',
      ]),
      { alignRight: [0, 5] },
    ),
  );
  return lines;
}
