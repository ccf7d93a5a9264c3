import type { MetaPort } from '../ports.js';
import type { SqlConnection } from './connection.js';

/** {@link MetaPort} over the `meta` table. */
export class SqlMeta implements MetaPort {
  constructor(private readonly conn: SqlConnection) {}

  async get(key: string): Promise<string | null> {
    const row = await this.conn.db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value ?? null;
  }

  async set(key: string, value: string): Promise<void> {
    await this.conn.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}
