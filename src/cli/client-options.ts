import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../config/durations.js';
import { ApiClient } from './client.js';
import { UsageError } from './errors.js';
import { processOutput, type Output } from './output.js';

const DEFAULT_SERVER = 'http://127.0.0.1:8080';
export const DEFAULT_TIMEOUT_MS = 10_000;

interface ClientFlags {
  readonly server?: string;
  readonly token?: string;
  readonly dataDir: string;
  readonly timeout: number;
  readonly json?: boolean;
}

/** A duration flag: `500ms`, `10s`, `2m`, or a number of seconds (same syntax as the pipeline file). */
function durationArg(value: string): number {
  const r = parseDuration(value);
  if (!r.ok) throw new InvalidArgumentError(r.reason);
  if (r.ms === 0) throw new InvalidArgumentError('must be more than zero');
  return r.ms;
}

/** A long duration (`90d`, `12h`): token lifetimes, `--since` windows; up to ten years. */
export function lifetimeArg(value: string): number {
  const r = parseDuration(value, 3650 * 86_400_000);
  if (!r.ok) throw new InvalidArgumentError(r.reason);
  if (r.ms === 0) throw new InvalidArgumentError('must be more than zero');
  return r.ms;
}

/** A positive whole number argument (build ids, limits). */
export function positiveIntArg(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError('expected a positive whole number');
  }
  return Number(value);
}

/** A build id as typed by people: `42` or `#42`. */
export function buildIdArg(value: string): number {
  return positiveIntArg(value.startsWith('#') ? value.slice(1) : value);
}

/** Adds the options every command that talks to the server shares. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--server <url>', `server URL (default: ${DEFAULT_SERVER})`).env(
        'NIGHTLESS_SERVER',
      ),
    )
    .addOption(
      new Option('--token <token>', 'API token (default: <data-dir>/token when present)').env(
        'NIGHTLESS_TOKEN',
      ),
    )
    .option(
      '--data-dir <dir>',
      'where `nightless serve` keeps its state (for the token)',
      '.nightless',
    )
    .option(
      '--timeout <duration>',
      'connect + total timeout of each request',
      durationArg,
      DEFAULT_TIMEOUT_MS,
    )
    .option('--json', 'print the raw API JSON');
}

export interface CommandContext {
  readonly client: ApiClient;
  readonly out: Output;
  readonly json: boolean;
}

/** Resolves the shared options of `cmd` into a client and an output. */
export function commandContext(cmd: Command): CommandContext {
  const flags = cmd.opts<ClientFlags>();
  return {
    client: new ApiClient({
      baseUrl: resolveServer(flags.server),
      token: resolveToken(flags.token, flags.dataDir),
      timeoutMs: flags.timeout,
    }),
    out: processOutput(),
    json: flags.json === true,
  };
}

function resolveServer(flag: string | undefined): string {
  const raw = flag ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--server: not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--server: expected an http:// or https:// URL, got ${raw}`);
  }
  return url.href.replace(/\/+$/, '');
}

/** `--token`/NIGHTLESS_TOKEN, else the token `nightless serve` wrote into its data directory. */
function resolveToken(flag: string | undefined, dataDir: string): string | null {
  if (flag !== undefined && flag !== '') return flag;
  const file = join(dataDir, 'token');
  if (!existsSync(file)) return null;
  const token = readFileSync(file, 'utf8').trim();
  return token === '' ? null : token;
}
