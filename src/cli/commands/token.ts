import { InvalidArgumentError, type Command } from 'commander';
import { isScope, SCOPES, type Scope } from '../../core/access.js';
import { commandContext, lifetimeArg, withClientOptions } from '../client-options.js';
import type { Colours } from '../format/colour.js';
import { renderTable } from '../format/table.js';
import { formatRelative, formatWhen } from '../format/time.js';

/** A token as `GET /api/tokens` lists it (src/server/routes/tokens.ts). */
export interface TokenInfo {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly createdAt: number;
  readonly createdBy: string;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
  readonly state: 'active' | 'expired' | 'revoked';
}

/** `--scope read,trigger` or `--scope read --scope trigger`. */
function scopeArg(value: string, previous: Scope[] = []): Scope[] {
  const out = [...previous];
  for (const part of value.split(',').map((s) => s.trim())) {
    if (!isScope(part))
      throw new InvalidArgumentError(`unknown scope "${part}" (one of: ${SCOPES.join(', ')})`);
    if (!out.includes(part)) out.push(part);
  }
  return out;
}

export function registerToken(program: Command): void {
  const token = program
    .command('token')
    .description('scoped API tokens: create, list, revoke (needs an admin token)');

  withClientOptions(
    token
      .command('create')
      .description('create a token and print it once')
      .requiredOption('--name <name>', 'what the token is for: grafana, release-bot, hook:app')
      .requiredOption(
        '--scope <scopes>',
        `one or more of ${SCOPES.join(', ')} (comma-separated or repeated)`,
        scopeArg,
      )
      .option('--expires <duration>', 'lifetime: 90d, 12h (default: never)', lifetimeArg),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ nightless token create --name grafana --scope read --expires 90d
  $ nightless token create --name release-bot --scope read,trigger`,
    )
    .action(
      async (
        flags: { name: string; scope: Scope[]; expires?: number },
        cmd: Command,
      ): Promise<void> => {
        const { client, out, json } = commandContext(cmd);
        const body = await client.postJson<{ token: string; info: TokenInfo }>('/api/tokens', {
          name: flags.name,
          scopes: flags.scope,
          ...(flags.expires === undefined ? {} : { expiresInMs: flags.expires }),
        });
        if (json) return out.json(body);
        out.print(
          body.token,
          '',
          `token "${body.info.name}" (${body.info.scopes.join(', ')})${
            body.info.expiresAt === null
              ? ', no expiry'
              : `, expires ${formatWhen(body.info.expiresAt, out.now())}`
          }: shown once, store it now.`,
        );
      },
    );

  withClientOptions(
    token.command('list').description('every token: scopes, creation, last use, expiry'),
  ).action(async (_flags: unknown, cmd: Command) => {
    const { client, out, json } = commandContext(cmd);
    const body = await client.getJson<{ tokens: TokenInfo[] }>('/api/tokens');
    if (json) return out.json(body);
    out.print(...formatTokens(body.tokens, out.now(), out.colours));
  });

  withClientOptions(
    token
      .command('revoke')
      .argument('<name>', 'the token to revoke')
      .description('revoke a token: it is refused from the next request on'),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const { client, out, json } = commandContext(cmd);
    const body = await client.deleteJson<{ revoked: string }>(
      `/api/tokens/${encodeURIComponent(name)}`,
    );
    if (json) return out.json(body);
    out.print(`revoked token "${body.revoked}"`);
  });
}

function formatTokens(tokens: readonly TokenInfo[], now: number, c: Colours): string[] {
  if (tokens.length === 0)
    return ['no tokens yet besides the bootstrap token (nightless token create --help)'];
  return renderTable(
    ['NAME', 'SCOPES', 'STATE', 'CREATED', 'LAST USED', 'EXPIRES'],
    tokens.map((t) => [
      t.name,
      t.scopes.join(','),
      t.state === 'active' ? c.green(t.state) : c.red(t.state),
      `${formatRelative(t.createdAt, now)} by ${t.createdBy}`,
      t.lastUsedAt === null ? 'never' : formatRelative(t.lastUsedAt, now),
      t.expiresAt === null ? 'never' : formatWhen(t.expiresAt, now),
    ]),
  );
}
