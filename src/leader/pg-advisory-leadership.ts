import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Leadership } from './port.js';

export interface PgLeadershipOptions {
  /** `postgres://…`, the store's database; the password never reaches a log line. */
  readonly url: string;
  /** This replica, as `application_name` in `pg_stat_activity` and in log lines. */
  readonly name: string;
  readonly logger: Logger;
  /**
   * Hashed with the session's `current_schema()` into the advisory-lock key (default
   * `nightless.leader`), so installations in different schemas of one database elect apart.
   */
  readonly lockName?: string;
  /** How often a follower tries the lock, and a leader checks its session (default 2 s). */
  readonly intervalMs?: number;
  /** Opening the session (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Every query on the session, client-side (default 1.5 s): a silent server counts as gone. */
  readonly queryTimeoutMs?: number;
  /**
   * How long a replica that has just taken the lock holds it before it leads (default 500 ms),
   * so that a former leader whose session was cut hears of it and steps down first.
   */
  readonly handoverMs?: number;
}

/**
 * Leadership through a PostgreSQL session-level advisory lock (`pg_try_advisory_lock`) held on a
 * connection of its own. Followers try it every `intervalMs`; the leader checks its session as
 * often. The leader steps down (`onChange(false)`) the moment the session fails — a connection
 * error, the session ending, a check that does not answer within `queryTimeoutMs` — before
 * anything else, then campaigns again on a new session.
 *
 * Takeover: a leader killed (even `kill -9`) loses its socket, PostgreSQL ends the session and
 * the lock goes with it; a follower holds it at its next try (≤ `intervalMs`) and leads
 * `handoverMs` later if its session still answers. The wait matters when the old leader is alive
 * but its session was ended server-side (`pg_terminate_backend`): the lock is free at once, while
 * the old leader hears of it only when its socket delivers the error. A leader whose
 * machine or network vanishes without closing the socket is detected by the server's TCP
 * keepalives, which the session sets to about 6 s, while the leader itself steps down after a
 * failed check (≤ `intervalMs` + `queryTimeoutMs`), before any follower can take over.
 */
export class PgAdvisoryLeadership implements Leadership {
  private client: pg.Client | null = null;
  private key: string | null = null;
  private isLeading = false;
  private onChange: ((leading: boolean) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;
  private failingSince: number | null = null;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: PgLeadershipOptions) {}

  get leading(): boolean {
    return this.isLeading;
  }

  start(onChange: (leading: boolean) => void): void {
    if (this.onChange !== null || this.stopped) return;
    this.onChange = onChange;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    if (this.isLeading) this.setLeading(false);
    const client = this.client;
    this.client = null;
    // Ending the session releases the lock; unlocking first spares the next leader nothing, so
    // the session is simply closed (bounded: a dead network must not hold up shutdown).
    if (client) await endSession(client, this.opts.queryTimeoutMs ?? 1_500);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        this.schedule(this.opts.intervalMs ?? 2_000);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    let client = this.client;
    try {
      if (client === null) client = await this.connect();
      if (this.isLeading) {
        await client.query('select 1');
        return;
      }
      const { rows } = await client.query<{ ok: boolean }>(
        'select pg_try_advisory_lock($1::bigint) as ok',
        [this.key],
      );
      if (this.failingSince !== null) {
        this.opts.logger.info(
          { failingForMs: Date.now() - this.failingSince },
          'leader election: database reachable again',
        );
        this.failingSince = null;
      }
      if (rows[0]?.ok !== true) return;
      await sleep(this.opts.handoverMs ?? 500, undefined, { signal: this.stopping.signal }).catch(
        () => undefined,
      );
      if (this.stopped || this.client !== client) return;
      await client.query('select 1');
      if (!this.stopped && this.client === client) {
        this.opts.logger.info({ replica: this.opts.name }, 'this replica is the leader now');
        this.setLeading(true);
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (client !== null) this.sessionLost(client, reason);
      else this.noteFailure(reason);
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 5_000,
      query_timeout: this.opts.queryTimeoutMs ?? 1_500,
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      application_name: `nightless leader ${this.opts.name}`.slice(0, 63),
    });
    client.on('error', (err: Error) => this.sessionLost(client, err.message));
    client.on('end', () => this.sessionLost(client, 'session ended'));
    this.client = client;
    try {
      await client.connect();
      // Ask the server to notice a vanished peer within ~6 s (the default is two hours): only
      // then does a leader whose machine died release the lock in time. Ignored on Unix sockets.
      await client.query(
        `select set_config('tcp_keepalives_idle', '3', false),
                set_config('tcp_keepalives_interval', '1', false),
                set_config('tcp_keepalives_count', '3', false)`,
      );
      const { rows } = await client.query<{ key: string }>(
        `select hashtext($1 || '.' || current_schema())::bigint::text as key`,
        [this.opts.lockName ?? 'nightless.leader'],
      );
      this.key = rows[0]?.key ?? null;
    } catch (err) {
      if (this.client === client) this.client = null;
      void endSession(client, this.opts.queryTimeoutMs ?? 1_500);
      throw err;
    }
    return client;
  }

  /** The session is gone or cannot be trusted: step down first, then drop it. */
  private sessionLost(client: pg.Client, reason: string): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.isLeading) {
      this.setLeading(false);
      this.opts.logger.error(
        { replica: this.opts.name, reason: redact(reason, this.opts.url) },
        'leader lock session lost: stepped down, campaigning again',
      );
      this.failingSince = Date.now();
    } else {
      this.noteFailure(reason);
    }
    void endSession(client, this.opts.queryTimeoutMs ?? 1_500);
  }

  private noteFailure(reason: string): void {
    if (this.failingSince !== null || this.stopped) return;
    this.failingSince = Date.now();
    this.opts.logger.warn(
      { replica: this.opts.name, reason: redact(reason, this.opts.url) },
      'leader election: cannot reach the database; retrying every interval',
    );
  }

  private setLeading(leading: boolean): void {
    if (this.isLeading === leading) return;
    this.isLeading = leading;
    this.onChange?.(leading);
  }
}

/** Closes a session, and after `ms` tears its socket down whatever the server does. */
async function endSession(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } })
        .connection?.stream;
      stream?.destroy();
      resolve();
    }, ms);
  });
  await Promise.race([client.end().catch(() => undefined), late]);
  clearTimeout(timer);
}

/** Driver messages can quote the connection string; the password never reaches a log line. */
function redact(text: string, url: string): string {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === '' ? text : text.split(password).join('***');
  } catch {
    return text;
  }
}
