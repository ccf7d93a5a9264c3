import { InvalidArgumentError, type Command } from 'commander';
import { commandContext, withClientOptions } from '../client-options.js';
import { renderTable } from '../format/table.js';
import { formatRelative } from '../format/time.js';

interface AgentInfo {
  readonly name: string;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly version: string;
  readonly lastHeartbeatAt: number;
  readonly running: ReadonlyArray<{ readonly id: number; readonly job: string }>;
}

interface AgentTokenInfo {
  readonly name: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

/** `nightless agents`. */
export function registerAgents(program: Command): void {
  withClientOptions(
    program
      .command('agents')
      .description('build agents: labels, slots, running builds, last heartbeat, version'),
  ).action(async (_flags: unknown, cmd: Command) => {
    const { client, out, json } = commandContext(cmd);
    const body = await client.getJson<{ agents: AgentInfo[] }>('/api/agents');
    if (json) return out.json(body);
    if (body.agents.length === 0)
      return out.print('no agent has connected yet (nightless agent --help)');
    out.print(
      ...renderTable(
        ['NAME', 'LABELS', 'SLOTS', 'RUNNING', 'LAST HEARTBEAT', 'VERSION'],
        body.agents.map((a) => [
          a.name,
          a.labels.join(',') || '-',
          String(a.slots),
          a.running.map((b) => `#${b.id} ${b.job}`).join(', ') || '-',
          formatRelative(a.lastHeartbeatAt, out.now()),
          a.version,
        ]),
      ),
    );
  });
}

/** `nightless agent-token create|list|revoke`. */
export function registerAgentToken(program: Command): void {
  const token = program
    .command('agent-token')
    .description('tokens for build agents: create, list, revoke (needs an admin token)');
  withClientOptions(
    token
      .command('create')
      .description('create an agent token and print it once')
      .argument('<name>', 'what the token is for: the agent or the machine pool'),
  )
    .addHelpText(
      'after',
      `
An agent token can claim builds, renew leases, send logs, outputs and results — nothing else.

Examples:
  $ nightless agent-token create arm-pool
  $ NIGHTLESS_AGENT_TOKEN=nl_… nightless agent --server https://ci.example.com --name arm1`,
    )
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.postJson<{ token: string; name: string }>('/api/agent-tokens', {
        name,
      });
      if (json) return out.json(body);
      out.print(
        body.token,
        '',
        `agent token "${body.name}": shown once, store it now (NIGHTLESS_AGENT_TOKEN).`,
      );
    });
  withClientOptions(token.command('list').description('every agent token')).action(
    async (_flags: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.getJson<{ tokens: AgentTokenInfo[] }>('/api/agent-tokens');
      if (json) return out.json(body);
      if (body.tokens.length === 0)
        return out.print('no agent tokens (nightless agent-token create)');
      out.print(
        ...renderTable(
          ['NAME', 'STATE', 'CREATED', 'LAST USED'],
          body.tokens.map((t) => [
            t.name,
            t.revokedAt === null ? 'active' : 'revoked',
            `${formatRelative(t.createdAt, out.now())} by ${t.createdBy}`,
            t.lastUsedAt === null ? 'never' : formatRelative(t.lastUsedAt, out.now()),
          ]),
        ),
      );
    },
  );
  withClientOptions(
    token
      .command('revoke')
      .argument('<name>', 'the agent token to revoke')
      .description('revoke an agent token: its agents are refused from the next request on'),
  ).action(async (name: string, _flags: unknown, cmd: Command) => {
    const { client, out, json } = commandContext(cmd);
    const body = await client.deleteJson<{ revoked: string }>(
      `/api/agent-tokens/${encodeURIComponent(name)}`,
    );
    if (json) return out.json(body);
    out.print(`revoked agent token "${body.revoked}"`);
  });
}

/** `--labels linux,arm64` (repeatable). */
export function labelsArg(value: string, previous: string[] = []): string[] {
  const out = [...previous];
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(part))
      throw new InvalidArgumentError(
        `invalid label "${part}": use letters, digits and . _ - (starting with a letter or digit)`,
      );
    if (!out.includes(part)) out.push(part);
  }
  return out;
}
