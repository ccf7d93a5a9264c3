import { sql } from 'kysely';
import type { Db } from './connection.js';
import { supersededColumns } from './decision-statements.js';
import type { BuildRow, InputRow } from './rows.js';

/*
 * The decision writer's statements on PostgreSQL: one event is one "ask" and one "write"
 * statement, whatever its decisions (see `decision-writer.ts`). Each statement has one fixed text
 * (row counts travel as array lengths, through `unnest`), so it is prepared once per connection;
 * one statement instead of one per row saves the server's per-statement work (parse/bind/execute,
 * a snapshot, its own plan) and the client's, which is most of what a decision costs above its
 * commit (bench/RESULTS.md, "Scale, PostgreSQL part").
 */

/** What the writes of one event depend on, asked in one statement. */
export interface AskParams extends Record<string, unknown> {
  readonly eventId: number;
  readonly processedAt: number;
  readonly outcome: string;
  /** The event's new `detail`, or null to keep it. */
  readonly detail: string | null;
  readonly builds: number;
  readonly versions: number;
  /** Builds to supersede (locked and read back if still queued). */
  readonly olds: readonly number[];
}

export interface AskRow {
  /** 1 when this transaction marked the event processed, 0 when someone had (the fence). */
  readonly marked: number;
  readonly build_ids: readonly (number | string)[];
  readonly version_ids: readonly (number | string)[];
  readonly queued: ReadonlyArray<{ build: BuildRow; inputs: InputRow[] }> | null;
}

/**
 * The columns each CTE of {@link mergedDecisionStatements.write} unnests, with their SQL types:
 * group `v` column `id` is parameter `v_id`, an array with one element per row.
 */
const WRITE_COLUMNS = {
  v: {
    id: 'bigint',
    source: 'text',
    version: 'text',
    ref: 'text',
    eventId: 'bigint',
    origin: 'text',
    producedBy: 'bigint',
    createdAt: 'bigint',
  },
  h: { source: 'text', ref: 'text', versionId: 'bigint' },
  b: {
    id: 'bigint',
    job: 'text',
    state: 'text',
    fingerprint: 'text',
    definitionHash: 'text',
    cause: 'text',
    forced: 'integer',
    ref: 'text',
    queuedAt: 'bigint',
    finishedAt: 'bigint',
    reason: 'text',
    relatedBuild: 'bigint',
    attempt: 'integer',
    concurrencyGroup: 'text',
    concurrencyLimit: 'integer',
    causeEvent: 'bigint',
    retryOf: 'bigint',
  },
  i: {
    buildId: 'bigint',
    position: 'integer',
    source: 'text',
    version: 'text',
    ref: 'text',
    origin: 'text',
    eventId: 'bigint',
  },
  j: { name: 'text', hash: 'text', now: 'bigint' },
  s: { id: 'bigint', relatedBuild: 'bigint', finishedAt: 'bigint', reason: 'text' },
  d: {
    eventId: 'bigint',
    job: 'text',
    rule: 'text',
    source: 'text',
    version: 'text',
    buildId: 'bigint',
    detail: 'text',
    at: 'bigint',
  },
  p: { job: 'text', dueAt: 'bigint', eventId: 'bigint' },
} as const;

type Group = keyof typeof WRITE_COLUMNS;

/**
 * The rows of each table one event writes, as the parameters of the one-row statements
 * (`decisionStatements`, `buildStatements`) SQLite runs for them.
 */
export type WriteRows = Readonly<Record<Group, ReadonlyArray<Record<string, unknown>>>>;

export type WriteParams = Record<string, unknown[]>;

/** {@link WriteRows} as the parameters of `write`: one array per column. */
export function writeParams(rows: WriteRows): WriteParams {
  const out: WriteParams = {};
  for (const g of Object.keys(WRITE_COLUMNS) as Group[]) {
    const list = rows[g];
    for (const c of Object.keys(WRITE_COLUMNS[g])) out[`${g}_${c}`] = list.map((r) => r[c] ?? null);
  }
  return out;
}

/** `unnest`'s arguments for group `g`: its column arrays, typed. */
function unnest(p: WriteParams, g: Group) {
  return sql.join(
    Object.entries(WRITE_COLUMNS[g]).map(([c, t]) => sql`${p[`${g}_${c}`]}::${sql.raw(t)}[]`),
  );
}

/** What superseding sets besides the per-row values (the same as the one-row statement). */
const superseded = supersededColumns({ relatedBuild: 0, finishedAt: 0, reason: '' });

export const mergedDecisionStatements = {
  /**
   * Marks the event processed — the fence between two schedulers: the row lock makes the later
   * one find it processed (`marked` 0) and roll back — then, only if it did, reserves the new
   * rows' ids and locks the builds to supersede that are still queued, with their inputs (for
   * their outbox payloads). The fence comes first, so a losing scheduler locks no build.
   */
  ask: (db: Db, p: AskParams) => ({
    compile: () =>
      sql<AskRow>`with marked as (
          update events set processed_at = ${p.processedAt}, outcome = ${p.outcome},
                 detail = coalesce(${p.detail}::text, detail)
           where id = ${p.eventId} and processed_at is null
          returning id)
        select (select count(*) from marked)::int as marked,
          array(select nextval(pg_get_serial_sequence('builds', 'id'))
                  from generate_series(1, ${p.builds}::integer)
                 where exists (select from marked)) as build_ids,
          array(select nextval(pg_get_serial_sequence('versions', 'id'))
                  from generate_series(1, ${p.versions}::integer)
                 where exists (select from marked)) as version_ids,
          (select json_agg(json_build_object('build', to_json(q), 'inputs',
                    (select coalesce(json_agg(i order by i.position), '[]')
                       from build_inputs i where i.build_id = q.id)) order by q.id)
             from (select * from builds
                    where id = any(${p.olds}::bigint[]) and state = 'queued'
                      and exists (select from marked)
                    order by id for update) q) as queued`.compile(db),
  }),

  /**
   * Every row one event's decisions write, in one statement of data-modifying CTEs (each runs
   * once, to completion, read or not). None reads another's rows: foreign keys are checked at the
   * statement's end. Upserted keys must be unique per statement (`heads`, `jobs`,
   * `pending_settles`; the writer keeps the last row per key).
   */
  write: (db: Db, p: WriteParams) => ({
    compile: () =>
      sql`with
        v as (insert into versions (id, source, version, ref, event_id, origin, produced_by, created_at)
          select * from unnest(${unnest(p, 'v')})),
        h as (insert into heads (source, ref, version_id)
          select * from unnest(${unnest(p, 'h')})
          on conflict (source, ref) do update set version_id = excluded.version_id),
        b as (insert into builds (id, job, state, fingerprint, definition_hash, cause, forced, ref,
                 queued_at, finished_at, reason, related_build, attempt, concurrency_group,
                 concurrency_limit, trace_root)
          select u.id, u.job, u.state, u.fingerprint, u.definition_hash, u.cause, u.forced, u.ref,
                 u.queued_at, u.finished_at, u.reason, u.related_build, u.attempt,
                 u.concurrency_group, u.concurrency_limit,
                 coalesce(
                   (select case when e.origin = 'output' then e.trace_root else e.id end
                      from events e where e.id = u.cause_event),
                   (select r.trace_root from builds r where r.id = u.retry_of))
            from unnest(${unnest(p, 'b')})
              as u(id, job, state, fingerprint, definition_hash, cause, forced, ref, queued_at,
                   finished_at, reason, related_build, attempt, concurrency_group,
                   concurrency_limit, cause_event, retry_of)),
        i as (insert into build_inputs (build_id, position, source, version, ref, origin, event_id)
          select * from unnest(${unnest(p, 'i')})),
        j as (insert into jobs (name, definition_hash, updated_at)
          select * from unnest(${unnest(p, 'j')})
          on conflict (name) do update
            set definition_hash = excluded.definition_hash, updated_at = excluded.updated_at),
        s as (update builds o
            set state = ${sql.lit(superseded.state)},
                failure_class = ${sql.lit(superseded.failure_class)},
                related_build = u.related_by, finished_at = u.finished_at, reason = u.reason
           from unnest(${unnest(p, 's')})
             as u(id, related_by, finished_at, reason)
          where o.id = u.id and o.state = 'queued'),
        d as (insert into decisions (event_id, job, rule, source, version, build_id, detail, at)
          select u.event_id, u.job, u.rule, u.source, u.version, u.build_id, u.detail, u.at
            from unnest(${unnest(p, 'd')})
              with ordinality as u(event_id, job, rule, source, version, build_id, detail, at, ord)
           order by u.ord),
        p as (insert into pending_settles (job, due_at, event_id)
          select * from unnest(${unnest(p, 'p')})
          on conflict (job) do update set due_at = excluded.due_at, event_id = excluded.event_id)
        select 1 as done`.compile(db),
  }),
};
