import type { JobName } from '../../core/pipeline.js';
import type { ArtifactIndexPort, ArtifactPruneResult } from '../ports.js';
import { pruneArtifacts } from './artifact-retention.js';
import type { SqlConnection } from './connection.js';

/** {@link ArtifactIndexPort}: the `artifacts` rows are the blobs' reference counts. */
export class SqlArtifactIndex implements ArtifactIndexPort {
  constructor(private readonly conn: SqlConnection) {}

  async referencedDigest(digest: string): Promise<boolean> {
    const row = await this.conn.db
      .selectFrom('artifacts')
      .select('digest')
      .where('digest', '=', digest)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async referencedDigests(digests: readonly string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    if (digests.length > 500)
      throw new RangeError(`referencedDigests takes at most 500 digests, got ${digests.length}`);
    const rows = await this.conn.db
      .selectFrom('artifacts')
      .select('digest')
      .distinct()
      .where('digest', 'in', [...digests])
      .execute();
    return new Set(rows.map((r) => r.digest));
  }

  pruneArtifacts(
    keepBuildsPerJob: number | ((job: JobName) => number),
  ): Promise<ArtifactPruneResult> {
    return pruneArtifacts(this.conn.db, keepBuildsPerJob);
  }
}
