import type { SourceName } from '../../core/pipeline.js';

/**
 * `nightless.<installation-id>.<source>`: one durable queue per source and installation,
 * surviving restarts. The installation id, not the pipeline name, keeps two unrelated
 * installations on one broker (same directory name, so same pipeline name) from sharing a queue
 * and each losing about half of the messages.
 */
export function queueName(installationId: string, source: SourceName): string {
  return `nightless.${installationId}.${source}`;
}

/** The name queues had before they were named by installation (see docs/ingest.md). */
export function legacyQueueName(pipeline: string, source: SourceName): string {
  return `nightless.${pipeline}.${source}`;
}
