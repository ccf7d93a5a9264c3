import type { Logger } from 'pino';
import type { Build } from '../../core/build.js';
import type { JobDef } from '../../core/pipeline.js';
import type { RunResult } from '../../executor/port.js';
import { PublishError, publishSftp, type PublishFile } from './sftp-publisher.js';

export interface PublishOutputsDeps {
  /** Local path of a stored blob (`ContentStore.pathOf`). */
  readonly pathOf: (digest: string) => string;
  readonly logger: Logger;
}

/**
 * The build runner's `afterRun` hook: copies a passing build's outputs to each of the job's
 * `publish:` targets, in order. The first failure turns the build into `error` (code `network`
 * when the network failed, else `publish`; the reason names the target and the cause); the
 * outputs stay recorded.
 */
export function publishOutputs(deps: PublishOutputsDeps) {
  return async (
    build: Build,
    job: JobDef,
    result: RunResult,
    signal: AbortSignal,
  ): Promise<RunResult> => {
    if (result.state !== 'passed') return result;
    // Files keep their workspace paths (`dist/app.tgz`); a file in two outputs is sent once.
    const byPath = new Map<string, PublishFile>();
    for (const o of result.outputs)
      for (const f of o.files)
        byPath.set(f.path, { remotePath: f.path, localPath: deps.pathOf(f.digest), size: f.size });
    const files = [...byPath.values()];
    for (const def of job.publish) {
      try {
        const done = await publishSftp(def, { job: job.name, buildId: build.id }, files, signal);
        deps.logger.info({ build: build.id, host: def.host, ...done }, 'outputs published');
      } catch (err) {
        const reason =
          err instanceof PublishError
            ? err.message
            : `sftp ${def.host}:${def.port}: ${String(err)}`;
        deps.logger.warn({ build: build.id, reason }, 'publish failed');
        return {
          state: 'error',
          code: err instanceof PublishError && err.network ? 'network' : 'publish',
          step: null,
          reason,
          outputs: result.outputs,
          coverage: result.coverage,
          warnings: result.warnings,
        };
      }
    }
    return result;
  };
}
