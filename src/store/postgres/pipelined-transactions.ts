import type pg from 'pg';
import type { QueryResult } from 'kysely';
import type { CompiledShape, PipelinedTransactions } from '../sql/connection.js';
import { mapped } from './connection-loss.js';

/**
 * {@link PipelinedTransactions} over a pool of pipelining clients (`pipeline: true`: a query is
 * written at once with its own Sync; answers come back in order). One decision's `BEGIN`, writes
 * and `COMMIT` then cost one wait for the server instead of one per statement — on a loaded
 * machine each wait is a chance to be descheduled (bench/RESULTS.md, "Scale, PostgreSQL part").
 */
export class PgPipelinedTransactions implements PipelinedTransactions {
  constructor(
    private readonly pool: pg.Pool,
    /** The password-free address, for {@link StoreUnavailableError} messages. */
    private readonly where: string,
  ) {}

  async run<T>(
    work: (send: (q: CompiledShape) => Promise<QueryResult<unknown>>) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.runOnce(work);
    } catch (err) {
      // The same errors as every other query of the store: a lost database is "retry later".
      throw mapped(err, this.where);
    }
  }

  private async runOnce<T>(
    work: (send: (q: CompiledShape) => Promise<QueryResult<unknown>>) => Promise<T>,
  ): Promise<T> {
    const client = await this.pool.connect();
    const sent: Promise<unknown>[] = [];
    let failure: { readonly err: unknown } | null = null;
    const send = (q: CompiledShape): Promise<QueryResult<unknown>> => {
      const answer = client
        .query({ text: q.sql, values: [...q.parameters], ...(q.name ? { name: q.name } : {}) })
        .then((r) => ({ rows: r.rows as unknown[], numAffectedRows: BigInt(r.rowCount ?? 0) }))
        .catch((err: unknown) => {
          failure ??= { err };
          throw err;
        });
      sent.push(answer.catch(() => undefined));
      return answer;
    };
    const settled = async () => {
      for (let i = 0; i < sent.length; i++) await sent[i];
    };
    void send({ sql: 'begin', parameters: [], name: '' });
    try {
      const result = await work(send);
      // After a failed statement the server turns COMMIT into a rollback: report that failure.
      const commit = send({ sql: 'commit', parameters: [], name: '' });
      await settled();
      if (failure) throw (failure as { readonly err: unknown }).err;
      await commit;
      client.release();
      return result;
    } catch (err) {
      let broken: Error | undefined;
      try {
        await client.query('rollback');
      } catch (e) {
        // The connection is gone (or unusable): the pool must not hand it out again.
        broken = e instanceof Error ? e : new Error(String(e));
      }
      await settled();
      client.release(broken);
      throw failure ? (failure as { readonly err: unknown }).err : err;
    }
  }
}
