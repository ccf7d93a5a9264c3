import { sql } from 'kysely';
import type { Build, BuildCause, BuildState } from '../../core/build.js';
import type { OutboxRecord } from '../ports.js';
import type { Db, Shapes } from './connection.js';
import { bufferOutbox } from './outbox-writes.js';
import { toBuild, type BuildRow, type InputRow } from './rows.js';

/*
 * Writing and reading back builds inside a transaction, shared by the decision writer (new
 * builds) and the queue (retries, state changes): one place knows a build row's defaults and
 * the payload of its outbox rows.
 */

/** A new build row; omitted (or `undefined`) columns take their defaults. */
export interface NewBuild {
  readonly job: string;
  readonly state: BuildState;
  readonly fingerprint: string;
  readonly definition_hash: string;
  readonly cause: string;
  readonly forced?: number | undefined;
  readonly ref: string | null;
  readonly queued_at: number;
  readonly finished_at?: number | null | undefined;
  readonly reason?: string | null | undefined;
  readonly related_build?: number | null | undefined;
  readonly attempt?: number;
  /** Queued builds only: the group the claim limits (skipped builds never run). */
  readonly concurrency_group?: string | undefined;
  readonly concurrency_limit?: number | undefined;
  /** The job's `supersede:` (1 or 0; default 1): `lose-builds.ts` reads it. */
  readonly supersede?: number | undefined;
}

export type NewInput = Readonly<{
  source: string;
  version: string;
  ref: string | null;
  origin: string | null;
  eventId: number | null;
}>;

/** The row `insertBuild` stores for `values`, with every column as the table's defaults fill it. */
export function newBuildRow(id: number, v: NewBuild): BuildRow {
  return {
    id,
    job: v.job,
    state: v.state,
    fingerprint: v.fingerprint,
    definition_hash: v.definition_hash,
    cause: v.cause,
    forced: v.forced ?? 0,
    ref: v.ref,
    queued_at: v.queued_at,
    started_at: null,
    finished_at: v.finished_at ?? null,
    failed_step: null,
    reason: v.reason ?? null,
    related_build: v.related_build ?? null,
    exit_code: null,
    coverage_lines: null,
    coverage_branches: null,
    coverage_lines_delta: null,
    coverage_branches_delta: null,
    attempt: v.attempt ?? 1,
    worker: null,
    warnings: '[]',
    log_bytes: 0,
    concurrency_group: v.concurrency_group ?? v.job,
    concurrency_limit: v.concurrency_limit ?? 1,
    failure_class: null,
    not_before: null,
    lease_expires_at: null,
    // Decided by the insert (see `traceOf`); no reader of this row needs it.
    trace_root: null,
    supersede: v.supersede ?? 1,
  };
}

export function newInputRows(id: number, inputs: readonly NewInput[]): InputRow[] {
  return inputs.map((i, position) => ({
    build_id: id,
    position,
    source: i.source,
    version: i.version,
    ref: i.ref,
    origin: i.origin,
    event_id: i.eventId,
  }));
}

export async function insertBuild(
  trx: Db,
  shapes: Shapes,
  values: NewBuild,
  inputs: readonly NewInput[],
): Promise<number> {
  const { rows } = await shapes.run(
    trx,
    buildStatements.insertBuild,
    buildParams(newBuildRow(0, values)),
  );
  const row = rows[0];
  if (!row) throw new Error('inserting the build returned no id');
  const id = Number(row.id);
  for (const i of newInputRows(id, inputs))
    await shapes.run(trx, buildStatements.insertInput, inputParams(i));
  return id;
}

/** The parameters of `buildStatements.insertBuild(WithId)` for row `r` (its id aside). */
export function buildParams(r: BuildRow) {
  return {
    job: r.job,
    state: r.state,
    fingerprint: r.fingerprint,
    definitionHash: r.definition_hash,
    cause: r.cause,
    forced: r.forced,
    ref: r.ref,
    queuedAt: r.queued_at,
    finishedAt: r.finished_at,
    reason: r.reason,
    relatedBuild: r.related_build,
    attempt: r.attempt,
    concurrencyGroup: r.concurrency_group,
    concurrencyLimit: r.concurrency_limit,
    supersede: r.supersede,
    ...traceOf(JSON.parse(r.cause) as BuildCause),
  };
}

/** The parameters of `buildStatements.insertInput` for row `i`. */
export function inputParams(i: InputRow) {
  return {
    buildId: i.build_id,
    position: i.position,
    source: i.source,
    version: i.version,
    ref: i.ref,
    origin: i.origin,
    eventId: i.event_id,
  };
}

/**
 * Whose trace a new build is in (`lead_time`): a version's build is in the trace of its event (an
 * output event passes on its producer's root), a retry in its first attempt's. Manual, definition
 * and quiet-period (`settled`) builds are in none: they answer no single version.
 */
function traceOf(cause: BuildCause): { causeEvent: number | null; retryOf: number | null } {
  if (cause.kind === 'version') return { causeEvent: cause.eventId, retryOf: null };
  if (cause.kind === 'retry') return { causeEvent: null, retryOf: cause.previousBuild };
  return { causeEvent: null, retryOf: null };
}

/** `loadBuild` through compiled shapes (same rows, same `toBuild`), for the scheduler's hot path. */
export async function loadBuildShaped(trx: Db, shapes: Shapes, id: number): Promise<Build> {
  const { rows } = await shapes.run(trx, buildStatements.buildById, { id });
  const row = rows[0];
  if (!row) throw new Error(`build ${id} vanished`);
  const { rows: inputs } = await shapes.run(trx, buildStatements.inputsOf, { id });
  return toBuild(row, inputs);
}

/**
 * The outbox row of a build this transaction just inserted: the payload is built from the values
 * written (through `toBuild`, as `loadBuild` would read them back) instead of re-reading the row.
 */
export function writeNewBuildOutbox(
  trx: Db,
  id: number,
  values: NewBuild,
  inputs: readonly NewInput[],
  type: OutboxRecord['type'],
  now: number,
): void {
  const build = toBuild(newBuildRow(id, values), newInputRows(id, inputs));
  insertOutboxRow(trx, build, type, now);
}

/**
 * The outbox row of `build` as the caller has it (loaded or built) in this transaction; inserted
 * when the transaction commits, in the order written (see `outbox-writes.ts`).
 */
export function insertOutboxRow(
  trx: Db,
  build: Build,
  type: OutboxRecord['type'],
  now: number,
): void {
  bufferOutbox(trx, { build_id: build.id, type, payload: JSON.stringify(build), created_at: now });
}

export async function writeOutbox(
  trx: Db,
  buildId: number,
  type: OutboxRecord['type'],
  now: number,
): Promise<void> {
  const build = await loadBuild(trx, buildId);
  insertOutboxRow(trx, build, type, now);
}

export async function loadBuild(db: Db, id: number): Promise<Build> {
  const row = await db
    .selectFrom('builds')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const [build] = await withInputs(db, [row]);
  if (!build) throw new Error(`build ${id} vanished`);
  return build;
}

export async function withInputs(db: Db, rows: BuildRow[]): Promise<Build[]> {
  if (rows.length === 0) return [];
  const inputs = await db
    .selectFrom('build_inputs')
    .selectAll()
    .where(
      'build_id',
      'in',
      rows.map((r) => r.id),
    )
    .execute();
  return rows.map((r) => toBuild(r, inputs));
}

type BuildParams = ReturnType<typeof buildParams>;

/** The columns of a new build row; parameters passed through verbatim (see `Shapes`). */
const buildColumns = (p: BuildParams) => ({
  job: p.job,
  state: p.state,
  fingerprint: p.fingerprint,
  definition_hash: p.definitionHash,
  cause: p.cause,
  forced: p.forced,
  ref: p.ref,
  queued_at: p.queuedAt,
  finished_at: p.finishedAt,
  reason: p.reason,
  related_build: p.relatedBuild,
  attempt: p.attempt,
  concurrency_group: p.concurrencyGroup,
  concurrency_limit: p.concurrencyLimit,
  supersede: p.supersede,
  // Two primary-key lookups in the insert itself (no round trip on the scheduler's path).
  trace_root: sql<number | null>`coalesce(
    (select case when e.origin = 'output' then e.trace_root else e.id end
       from events e where e.id = ${p.causeEvent}),
    (select b.trace_root from builds b where b.id = ${p.retryOf}))`,
});

/** Hot statements of build writes (see `Shapes`). */
export const buildStatements = {
  insertBuild: (db: Db, p: BuildParams) =>
    db.insertInto('builds').values(buildColumns(p)).returning('id'),
  /** With an id reserved beforehand (the decision writer's, see `reserveIds`). */
  insertBuildWithId: (db: Db, p: BuildParams & { id: number }) =>
    db.insertInto('builds').values({ id: p.id, ...buildColumns(p) }),
  insertInput: (
    db: Db,
    p: {
      buildId: number;
      position: number;
      source: string;
      version: string;
      ref: string | null;
      origin: string | null;
      eventId: number | null;
    },
  ) =>
    db.insertInto('build_inputs').values({
      build_id: p.buildId,
      position: p.position,
      source: p.source,
      version: p.version,
      ref: p.ref,
      origin: p.origin,
      event_id: p.eventId,
    }),
  buildById: (db: Db, p: { id: number }) =>
    db.selectFrom('builds').selectAll().where('id', '=', p.id),
  inputsOf: (db: Db, p: { id: number }) =>
    db.selectFrom('build_inputs').selectAll().where('build_id', '=', p.id),
  /** A build row, locked until the transaction ends (no-op on SQLite: its writer is alone). */
  lockBuild: (db: Db, p: { id: number }) =>
    db.selectFrom('builds').selectAll().where('id', '=', p.id).forUpdate(),
};
