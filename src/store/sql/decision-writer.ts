import type { SchedulerEvent } from '../../core/event.js';
import type { SourceName } from '../../core/pipeline.js';
import type { BuildRef, Decision, SourceHead } from '../../core/scheduler/index.js';
import type { AppliedDecisions } from '../ports.js';
import type { Dialect } from './connection.js';
import { decisionStatements as hot, supersededColumns } from './decision-statements.js';
import {
  buildParams,
  buildStatements,
  inputParams,
  newBuildRow,
  newInputRows,
  type NewBuild,
} from './build-writes.js';
import { toBuild, type BuildRow, type InputRow } from './rows.js';
import type { StatementSender } from './statement-sender.js';

/** Deliveries per source counted while a batch applies, written once at its end. */
export type ReceivedCounts = Map<SourceName, { n: number; at: number }>;

type NewBuildDecision = Extract<Decision, { kind: 'queue-build' | 'record-skip' }>;

/**
 * What a decision does to stored state (the decision writer of the scheduler port): one event's
 * decisions, the event marked processed, every build change with its outbox row. Delivery
 * counts are collected in `received` and written by {@link countReceived}.
 *
 * In two steps, so that on PostgreSQL (pipelined, see `StatementSender`) an event costs two waits
 * for the server instead of one per statement: first what the writes depend on is asked all at
 * once (the fence, the new rows' ids, the builds to supersede), then every write is sent without
 * waiting; the transaction's end waits for their answers. SQLite runs the same statements in the
 * same order, one after the other (each as it is sent: `ImmediateSender`).
 */
export async function applyEventDecisions(
  w: StatementSender,
  dialect: Dialect,
  event: SchedulerEvent,
  decisions: readonly Decision[],
  now: number,
  received: ReceivedCounts,
): Promise<AppliedDecisions> {
  const newBuilds = decisions.filter(
    (d): d is NewBuildDecision => d.kind === 'queue-build' || d.kind === 'record-skip',
  );
  let outcome: string = decisions[0]?.rule ?? 'nothing';
  for (const d of newBuilds) outcome = d.rule;
  // The fence between schedulers: a replica that just lost the lead may still be committing a
  // batch the new leader decides too. The row lock makes the later of the two see the event
  // processed; it rolls back (and reloads its snapshot) instead of queuing the builds twice.
  const marked = w.send(hot.markProcessed, { processedAt: now, outcome, id: event.id });
  const buildIds = reserveIds(w, dialect, 'builds', newBuilds.length);
  const heads = decisions.filter((d) => d.kind === 'advance-head').length;
  const versionIds = reserveIds(w, dialect, 'versions', heads);
  const olds = [...new Set(newBuilds.flatMap((d) => d.supersedes))];
  const candidates = queuedAmong(w, dialect, olds);
  // Observed now: when an earlier answer fails (the connection is lost) these are never awaited,
  // and an unhandled rejection would end the process. Their failure is the same one, thrown below.
  for (const asked of [buildIds, versionIds, candidates]) asked.catch(() => undefined);
  if ((await marked).numAffectedRows === 0n)
    throw new Error(`event ${event.id} was decided already (by another scheduler)`);
  const ids = { builds: await buildIds, versions: await versionIds };
  const stillQueued = await candidates;

  const applied = {
    queued: [] as BuildRef[],
    skipped: [] as BuildRef[],
    superseded: [] as number[],
    cancelRequested: [] as number[],
    requestClosed: [] as number[],
    heads: [] as SourceHead[],
  };
  for (const d of decisions) {
    let buildId: number | null = null;
    switch (d.kind) {
      case 'advance-head': {
        const id = take(ids.versions);
        void w.send(hot.insertVersion, {
          id,
          source: d.source,
          version: d.version,
          ref: d.ref ?? '',
          eventId: event.id,
          origin: d.origin,
          producedBy: d.producedBy,
          createdAt: now,
        });
        void w.send(hot.upsertHead, { source: d.source, ref: d.ref ?? '', versionId: id });
        const head: SourceHead = {
          source: d.source,
          version: d.version,
          ref: d.ref,
          eventId: event.id,
          origin: d.origin,
          seq: id,
          producedBy: d.producedBy,
        };
        applied.heads.push(head);
        break;
      }
      case 'queue-build':
      case 'record-skip': {
        buildId = take(ids.builds);
        const values = newBuildValues(d, now);
        insertNewBuild(w, buildId, values, d.inputs, now);
        const ref: BuildRef = {
          id: buildId,
          job: d.job,
          state: values.state,
          fingerprint: d.fingerprint,
          forced: d.kind === 'queue-build' && d.forced,
          group: d.kind === 'queue-build' ? d.concurrency.group : d.group,
        };
        if (d.kind === 'queue-build') applied.queued.push(ref);
        else applied.skipped.push(ref);
        for (const old of d.supersedes) {
          const row = stillQueued.get(old);
          if (!row) continue;
          // Once: a build two decisions of one event both supersede is superseded by the first.
          stillQueued.delete(old);
          supersede(w, row.build, row.inputs, buildId, now);
          applied.superseded.push(old);
        }
        if (d.kind === 'queue-build') applied.cancelRequested.push(...d.cancels);
        break;
      }
      case 'defer':
        void w.send(hot.upsertSettle, { job: d.job, dueAt: d.until, eventId: event.id });
        break;
      case 'cancel-builds':
        // Carried out after the commit, like cancel_running (Engine: cancel per build).
        applied.requestClosed.push(...d.queued, ...d.running);
        break;
      case 'record-duplicate':
      case 'note':
        break;
    }
    void w.send(hot.insertDecision, {
      eventId: event.id,
      job: d.job,
      rule: d.rule,
      source: d.source,
      version: d.version,
      buildId,
      detail: d.detail,
      at: now,
    });
  }
  // Events that a person or a forge sent count towards delivery health; polls and outputs don't.
  if (event.kind === 'source' && event.origin !== 'poll' && event.origin !== 'output') {
    const r = received.get(event.source);
    received.set(event.source, { n: (r?.n ?? 0) + 1, at: now });
  }
  if (event.kind === 'source' && event.ancestry !== null) {
    // The fact the scheduler decided with, kept with the event so `why` and the event API can
    // show it (asked of the mirror just before deciding, so not known when the event arrived).
    const detail = JSON.stringify({
      changedPaths: event.changedPaths,
      producedBy: event.producedBy,
      ancestry: event.ancestry,
      ...(event.request === undefined ? {} : { request: event.request }),
    });
    void w.send(hot.setEventDetail, { detail, id: event.id });
  }
  return applied;
}

/** `events_received += n` once per source for the events of one transaction. */
export function countReceived(
  w: StatementSender,
  received: ReadonlyMap<SourceName, { n: number; at: number }>,
): void {
  for (const [name, { n, at }] of received) void w.send(hot.countReceived, { n, at, name });
}

function take(ids: number[]): number {
  const id = ids.shift();
  if (id === undefined) throw new Error('fewer ids reserved than rows inserted');
  return id;
}

/**
 * SQLite: per transaction (one sender each), the largest id of each table handed out so far. Only
 * this writer inserts builds and versions inside its transaction, so after the first read of
 * `sqlite_sequence` the next ids are known without asking again: a batch of events reads it once
 * per table instead of twice per event (bench/RESULTS.md, "Ingest", CPU per request).
 */
const handedOut = new WeakMap<StatementSender, Map<'builds' | 'versions', Promise<number>>>();

/**
 * `n` ids of `table` that no other row gets, in increasing order: from the sequence where there
 * is one (PostgreSQL), else after the largest id the AUTOINCREMENT table ever gave (SQLite, whose
 * one writer inserts them, in this transaction, before anyone can ask again).
 */
async function reserveIds(
  w: StatementSender,
  dialect: Dialect,
  table: 'builds' | 'versions',
  n: number,
): Promise<number[]> {
  if (n === 0) return [];
  if (dialect.sequences) {
    const { rows } = await w.send(hot.nextIds, { table, n });
    return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  }
  let tables = handedOut.get(w);
  if (!tables) {
    tables = new Map<'builds' | 'versions', Promise<number>>();
    handedOut.set(w, tables);
  }
  // Chained synchronously, so two reservations of one transaction never get the same ids.
  const before =
    tables.get(table) ??
    w.send(hot.lastId, { table }).then(({ rows }) => Number(rows[0]?.seq ?? 0));
  const after = before.then((last) => last + n);
  // A failed read fails the transaction; the next reservation never comes to observe it.
  after.catch(() => undefined);
  tables.set(table, after);
  const last = await before;
  return Array.from({ length: n }, (_, i) => last + 1 + i);
}

/** The builds among `ids` still queued, with their inputs; locked where rows can be. */
async function queuedAmong(
  w: StatementSender,
  dialect: Dialect,
  ids: readonly number[],
): Promise<Map<number, { build: BuildRow; inputs: InputRow[] }>> {
  const read = dialect.supportsRowLocks ? buildStatements.lockBuild : buildStatements.buildById;
  const asked = ids.map((id) => ({
    row: w.send(read, { id }),
    inputs: w.send(buildStatements.inputsOf, { id }),
  }));
  const out = new Map<number, { build: BuildRow; inputs: InputRow[] }>();
  for (const a of asked) {
    const build = (await a.row).rows[0];
    const inputs = (await a.inputs).rows;
    if (build && build.state === 'queued') out.set(Number(build.id), { build, inputs });
  }
  return out;
}

function newBuildValues(d: NewBuildDecision, now: number): NewBuild {
  const queued = d.kind === 'queue-build' ? d : null;
  const skipped = d.kind === 'record-skip' ? d : null;
  // One literal, not `{ ...common, state }`: in V8 11 (Node 20) each property written after
  // that spread got a hidden class of its own at every call, never reused and allocated in the
  // old generation: most of what old-generation collections freed (bench/RESULTS.md, Ingest).
  // What a kind leaves `undefined` takes the row's default (`newBuildRow`).
  return {
    job: d.job,
    fingerprint: d.fingerprint,
    definition_hash: d.definitionHash,
    cause: JSON.stringify(d.cause),
    ref: d.inputs.find((i) => i.ref !== null)?.ref ?? null,
    queued_at: now,
    state: queued ? 'queued' : 'skipped',
    forced: queued ? (queued.forced ? 1 : 0) : undefined,
    finished_at: skipped ? now : undefined,
    reason: skipped?.reason,
    related_build: skipped?.identicalTo,
    concurrency_group: queued ? queued.concurrency.group : skipped?.group,
    concurrency_limit: queued?.concurrency.limit,
    supersede: queued ? (queued.concurrency.supersede ? 1 : 0) : undefined,
  };
}

/** A new build row with its inputs and its outbox row (`queued` or `skipped`). */
function insertNewBuild(
  w: StatementSender,
  id: number,
  values: NewBuild,
  inputs: NewBuildDecision['inputs'],
  now: number,
): void {
  const row = newBuildRow(id, values);
  const inputRows = newInputRows(id, inputs);
  void w.send(buildStatements.insertBuildWithId, { id, ...buildParams(row) });
  for (const i of inputRows) void w.send(buildStatements.insertInput, inputParams(i));
  outbox(w, toBuild(row, inputRows), values.state === 'queued' ? 'queued' : 'skipped', now);
}

/** Marks queued build `row` superseded by build `by`, with its outbox row. */
function supersede(
  w: StatementSender,
  row: BuildRow,
  inputs: readonly InputRow[],
  by: number,
  now: number,
): void {
  const reason = `superseded by build #${by}`;
  // A literal for the same reason as in `newBuildValues`.
  const p = { id: Number(row.id), relatedBuild: by, finishedAt: now, reason };
  void w.send(hot.supersede, p);
  // The row as the update leaves it: it was read (and on PostgreSQL locked) still queued.
  outbox(w, toBuild({ ...row, ...supersededColumns(p) }, inputs), 'superseded', now);
}

function outbox(
  w: StatementSender,
  build: ReturnType<typeof toBuild>,
  type: 'queued' | 'skipped' | 'superseded',
  now: number,
): void {
  w.outbox({ buildId: build.id, type, payload: JSON.stringify(build), createdAt: now });
}
