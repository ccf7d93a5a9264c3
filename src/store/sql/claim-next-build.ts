import type { Build } from '../../core/build.js';
import type { ClaimFilter } from '../ports.js';
import { insertOutboxRow, loadBuildShaped } from './build-writes.js';
import type { Db, Dialect, SqlConnection } from './connection.js';

/**
 * Takes the oldest eligible queued build and marks it running for `worker`, in one statement that
 * succeeds for exactly one claimer however many race for the build:
 *
 *   UPDATE builds SET state = 'running', … WHERE state = 'queued' AND id = (SELECT …) RETURNING id
 *
 * The outer `state = 'queued'` is re-checked against the row as it is when the update takes it,
 * so a claimer that picked a build another one started in between updates nothing and gets
 * `null` (it returns no row rather than starting the build twice). On SQLite the database's one
 * writer already orders claimers across connections and processes; on PostgreSQL the inner
 * select locks its row `FOR UPDATE SKIP LOCKED` ({@link Dialect.supportsSkipLocked}), so
 * concurrent claimers pick different builds instead of queueing on the same row.
 *
 * Eligible: the oldest queued build of its concurrency group (a group's builds start in queue
 * order) whose group runs fewer builds than its limit; other groups' builds are taken past a
 * full one. A retry waiting out its backoff (`not_before` in the future) is not eligible. The
 * `started` outbox row is written in the same transaction.
 */
export function claimNextBuild(
  conn: SqlConnection,
  worker: string,
  now: number,
  filter: ClaimFilter = NO_FILTER,
): Promise<Build | null> {
  if (filter.jobs !== null && filter.jobs.length === 0) return Promise.resolve(null);
  return conn.transaction(async (trx) => {
    // Without a job filter (the embedded server's slots) the statement is a compiled shape: kysely
    // built and compiled it on every claim, ~1 ms of the server's CPU while a push's fetch runs.
    const started =
      filter.jobs === null
        ? (
            await conn.run(
              claimAny(conn.dialect),
              { worker, now, leaseUntil: filter.leaseUntil },
              trx,
            )
          ).rows[0]
        : await claimStatement(trx, conn.dialect, worker, now, filter).executeTakeFirst();
    if (!started) return null;
    // Read once, for the `started` outbox row and for the caller.
    const build = await loadBuildShaped(trx, conn.shapes, Number(started.id));
    insertOutboxRow(trx, build, 'started', now);
    return build;
  });
}

interface ClaimParams extends Record<string, unknown> {
  readonly worker: string;
  readonly now: number;
  readonly leaseUntil: number | null;
}

type ClaimShape = (db: Db, p: ClaimParams) => ReturnType<typeof claimStatement>;

/** The claim of any job as a shape builder (its parameters verbatim), for one locking mode. */
function claimShape(supportsSkipLocked: boolean): ClaimShape {
  return (db, p) =>
    claimStatement(db, { supportsSkipLocked }, p.worker, p.now, {
      jobs: null,
      leaseUntil: p.leaseUntil,
    });
}

/** Made once: `Shapes` compiles each builder once, keyed by the function itself. */
const CLAIM_LOCKING = claimShape(true);
const CLAIM_PLAIN = claimShape(false);

function claimAny(dialect: Dialect): ClaimShape {
  return dialect.supportsSkipLocked ? CLAIM_LOCKING : CLAIM_PLAIN;
}

/** The claim `UPDATE … RETURNING id`; returns no row when there was nothing to claim. */
export function claimStatement(
  db: Db,
  dialect: Pick<Dialect, 'supportsSkipLocked'>,
  worker: string,
  now: number,
  filter: ClaimFilter = NO_FILTER,
) {
  const { jobs } = filter;
  return db
    .updateTable('builds')
    .set({ state: 'running', started_at: now, worker, lease_expires_at: filter.leaseUntil })
    .where('state', '=', 'queued')
    .where('id', '=', (eb) => {
      let next = eb
        .selectFrom('builds as q')
        .select('q.id')
        .where('q.state', '=', 'queued')
        .where((e) => e.or([e('q.not_before', 'is', null), e('q.not_before', '<=', now)]))
        .where('q.id', '=', (eb2) =>
          eb2
            .selectFrom('builds as o')
            .select((e) => e.fn.min('o.id').as('id'))
            .where('o.state', '=', 'queued')
            // A retry in its backoff does not hold its group: newer builds start meanwhile.
            .where((e) => e.or([e('o.not_before', 'is', null), e('o.not_before', '<=', now)]))
            .whereRef('o.concurrency_group', '=', 'q.concurrency_group'),
        )
        .where(
          (eb2) =>
            eb2
              .selectFrom('builds as r')
              .select((e) => e.fn.countAll<number>().as('n'))
              .where('r.state', '=', 'running')
              .whereRef('r.concurrency_group', '=', 'q.concurrency_group'),
          '<',
          (eb2) => eb2.ref('q.concurrency_limit'),
        )
        .orderBy('q.id')
        .limit(1);
      // Jobs with `runs_on:` go only to claimers with every label (the caller lists the jobs).
      if (jobs !== null) next = next.where('q.job', 'in', jobs);
      // The dialect hook: the only place the claim differs between backends.
      return dialect.supportsSkipLocked ? next.forUpdate().skipLocked() : next;
    })
    .returning('id');
}

const NO_FILTER: ClaimFilter = { jobs: null, leaseUntil: null };
