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

  pruneArtifacts(
    keepBuildsPerJob: number | ((job: JobName) => number),
  ): Promise<ArtifactPruneResult> {
    return pruneArtifacts(this.conn.db, keepBuildsPerJob);
  }
}
