import type { SchedulerEvent } from '../../core/event.js';
import type { SourceName } from '../../core/pipeline.js';
import type { BuildRef, Decision, SourceHead } from '../../core/scheduler/index.js';
import type { AppliedDecisions } from '../ports.js';
import type { Database } from '../schema.js';
import type { Transaction } from 'kysely';
import type { Db, Shapes } from './connection.js';
import { decisionStatements as hot } from './decision-statements.js';
import {
  insertBuild,
  insertOutboxRow,
  loadBuildShaped,
  writeNewBuildOutbox,
  type NewBuild,
} from './build-writes.js';

/** Deliveries per source counted while a batch applies, written once at its end. */
export type ReceivedCounts = Map<SourceName, { n: number; at: number }>;

/**
 * What a decision does to stored state (the decision writer of the scheduler port): one event's
 * decisions inside `trx`, the event marked processed, every build change with its outbox row.
 * Delivery counts are collected in `received` and written by {@link countReceived}.
 */
export async function applyEventDecisions(
  shapes: Shapes,
  trx: Transaction<Database>,
  event: SchedulerEvent,
  decisions: readonly Decision[],
  now: number,
  received: ReceivedCounts,
): Promise<AppliedDecisions> {
  const queued: BuildRef[] = [];
  const skipped: BuildRef[] = [];
  const superseded: number[] = [];
  const cancelRequested: number[] = [];
  const requestClosed: number[] = [];
  const heads: SourceHead[] = [];
  let outcome: string = decisions.length === 0 ? 'nothing' : (decisions[0]?.rule ?? 'nothing');
  for (const d of decisions) {
    let buildId: number | null = null;
    switch (d.kind) {
      case 'advance-head': {
        const { rows } = await shapes.run(trx, hot.insertVersion, {
          source: d.source,
          version: d.version,
          ref: d.ref ?? '',
          eventId: event.id,
          origin: d.origin,
          producedBy: d.producedBy,
          createdAt: now,
        });
        const v = rows[0];
        if (!v) throw new Error('inserting the version returned no id');
        await shapes.run(trx, hot.upsertHead, {
          source: d.source,
          ref: d.ref ?? '',
          versionId: v.id,
        });
        heads.push({
          source: d.source,
          version: d.version,
          ref: d.ref,
          eventId: event.id,
          origin: d.origin,
          seq: Number(v.id),
          producedBy: d.producedBy,
        });
        break;
      }
      case 'queue-build': {
        const ref = d.inputs.find((i) => i.ref !== null)?.ref ?? null;
        const values: NewBuild = {
          job: d.job,
          state: 'queued',
          fingerprint: d.fingerprint,
          definition_hash: d.definitionHash,
          cause: JSON.stringify(d.cause),
          forced: d.forced ? 1 : 0,
          ref,
          queued_at: now,
          concurrency_group: d.concurrency.group,
          concurrency_limit: d.concurrency.limit,
        };
        buildId = await insertBuild(trx, shapes, values, d.inputs);
        await upsertJob(trx, shapes, d.job, d.definitionHash, now);
        queued.push({
          id: buildId,
          job: d.job,
          state: 'queued',
          fingerprint: d.fingerprint,
          forced: d.forced,
          group: d.concurrency.group,
        });
        writeNewBuildOutbox(trx, buildId, values, d.inputs, 'queued', now);
        superseded.push(...(await supersedeQueued(trx, shapes, d.supersedes, buildId, now)));
        cancelRequested.push(...d.cancels);
        break;
      }
      case 'record-skip': {
        const ref = d.inputs.find((i) => i.ref !== null)?.ref ?? null;
        const values: NewBuild = {
          job: d.job,
          state: 'skipped',
          fingerprint: d.fingerprint,
          definition_hash: d.definitionHash,
          cause: JSON.stringify(d.cause),
          ref,
          queued_at: now,
          finished_at: now,
          reason: d.reason,
          related_build: d.identicalTo,
          concurrency_group: d.group,
        };
        buildId = await insertBuild(trx, shapes, values, d.inputs);
        skipped.push({
          id: buildId,
          job: d.job,
          state: 'skipped',
          fingerprint: d.fingerprint,
          forced: false,
          group: d.group,
        });
        writeNewBuildOutbox(trx, buildId, values, d.inputs, 'skipped', now);
        superseded.push(...(await supersedeQueued(trx, shapes, d.supersedes, buildId, now)));
        break;
      }
      case 'defer':
        await trx
          .insertInto('pending_settles')
          .values({ job: d.job, due_at: d.until, event_id: event.id })
          .onConflict((oc) => oc.column('job').doUpdateSet({ due_at: d.until, event_id: event.id }))
          .execute();
        break;
      case 'cancel-builds':
        // Carried out after the commit, like cancel_running (Engine: cancel per build).
        requestClosed.push(...d.queued, ...d.running);
        break;
      case 'record-duplicate':
      case 'note':
        break;
    }
    if (d.kind === 'queue-build' || d.kind === 'record-skip') outcome = d.rule;
    await shapes.run(trx, hot.insertDecision, {
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
    await trx
      .updateTable('events')
      .set({
        detail: JSON.stringify({
          changedPaths: event.changedPaths,
          producedBy: event.producedBy,
          ancestry: event.ancestry,
          ...(event.request === undefined ? {} : { request: event.request }),
        }),
      })
      .where('id', '=', event.id)
      .execute();
  }
  const marked = await shapes.run(trx, hot.markProcessed, {
    processedAt: now,
    outcome,
    id: event.id,
  });
  // The fence between schedulers: a replica that just lost the lead may still be committing a
  // batch the new leader decides too. The row lock makes the later of the two see the event
  // processed; it rolls back (and reloads its snapshot) instead of queuing the builds twice.
  if (marked.numAffectedRows === 0n)
    throw new Error(`event ${event.id} was decided already (by another scheduler)`);
  return { queued, skipped, superseded, cancelRequested, requestClosed, heads };
}

/** `events_received += n` once per source for the events of one transaction. */
export async function countReceived(
  trx: Transaction<Database>,
  shapes: Shapes,
  received: ReadonlyMap<SourceName, { n: number; at: number }>,
): Promise<void> {
  for (const [name, { n, at }] of received) {
    await shapes.run(trx, hot.countReceived, { n, at, name });
  }
}

/**
 * Marks queued builds `superseded` by build `by` (a newer queued build, or a skip that found the
 * newest input set already built), each with its outbox row. Returns the ids that were still queued.
 */
async function supersedeQueued(
  trx: Db,
  shapes: Shapes,
  ids: readonly number[],
  by: number,
  now: number,
): Promise<number[]> {
  const done: number[] = [];
  for (const old of ids) {
    const res = await shapes.run(trx, hot.supersede, {
      relatedBuild: by,
      finishedAt: now,
      reason: `superseded by build #${by}`,
      id: old,
    });
    if (Number(res.numAffectedRows ?? 0) > 0) {
      done.push(old);
      const build = await loadBuildShaped(trx, shapes, old);
      insertOutboxRow(trx, build, 'superseded', now);
    }
  }
  return done;
}

async function upsertJob(
  trx: Db,
  shapes: Shapes,
  name: string,
  hash: string,
  now: number,
): Promise<void> {
  await shapes.run(trx, hot.upsertJob, { name, hash, now });
}
