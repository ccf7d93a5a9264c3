import type { QueryResult } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../src/core/event.js';
import type { Dialect } from '../../src/store/sql/connection.js';
import { applyEventDecisions } from '../../src/store/sql/decision-writer.js';
import type { StatementSender } from '../../src/store/sql/statement-sender.js';
import { advanceHead, queueBuild, sha } from '../conformance/store/fixtures.js';

/**
 * The database goes away while a decision is being written (a PostgreSQL restart): every
 * statement's answer is the connection error. The writer must fail with it — and nothing else it
 * asked for may become an unhandled rejection, which would end `nightless serve` (seen in
 * test/replicas/pg-restart.test.ts: a replica died of "Connection terminated unexpectedly").
 */
const lost = new Error('Connection terminated unexpectedly');

/**
 * A sender whose every statement fails on the next tick, like answers from a dropped socket. As
 * the real senders do (`statement-sender.ts`), it observes each answer itself, so a statement
 * nobody awaits is not what is reported here.
 */
const failingSender = (): StatementSender => ({
  send: () => {
    const answer = new Promise<QueryResult<never>>((_, reject) =>
      setTimeout(() => reject(lost), 1),
    );
    answer.catch(() => undefined);
    return answer;
  },
  outbox: () => undefined,
  drain: () => Promise.reject(lost),
  abort: () => Promise.resolve(),
});

const PG_DIALECT: Dialect = {
  supportsSkipLocked: true,
  outboxIdsNeedLock: true,
  supportsRowLocks: true,
  sequences: true,
};

describe('decision writer when the connection is lost', () => {
  const unhandled: unknown[] = [];
  const note = (err: unknown) => unhandled.push(err);
  beforeEach(() => process.on('unhandledRejection', note));
  afterEach(() => {
    process.off('unhandledRejection', note);
    unhandled.length = 0;
  });

  it('fails with the connection error and leaves no unhandled rejection', async () => {
    const v = sha(1);
    const event = { id: 1, kind: 'source', source: 'app', version: v } as unknown as SchedulerEvent;
    const decisions = [
      advanceHead(v),
      queueBuild('fp1', v, { supersedes: [3, 4] }),
      queueBuild('fp2', v, { job: 'other' }),
    ];
    await expect(
      applyEventDecisions(failingSender(), PG_DIALECT, event, decisions, 1000, new Map()),
    ).rejects.toBe(lost);
    // Let every pending answer settle and Node report what nobody handled.
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });
});
