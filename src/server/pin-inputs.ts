import type { PinnedInput } from '../core/build.js';
import type { JobDef } from '../core/pipeline.js';
import { AmbiguousVersionError, resolveVersion, VersionNotFoundError } from '../read/trace.js';
import type { ReadPort } from '../store/ports.js';
import { ApiError } from './errors.js';

/** The most inputs one trigger may pin (a job has few; this only caps a hostile body). */
export const MAX_PINS = 100;

/**
 * `{ app: "3f2a1c0" }` → pins of versions the store has seen, each a full version with the branch
 * it was seen on. Refuses, naming the input and version: an input the job doesn't have (400), a
 * version never seen (404), a prefix of several versions (409, with the candidates).
 */
export async function resolvePins(
  store: Pick<ReadPort, 'findVersions' | 'versionRef'>,
  job: JobDef,
  requested: Readonly<Record<string, string>>,
): Promise<PinnedInput[]> {
  const pins: PinnedInput[] = [];
  for (const [source, asked] of Object.entries(requested)) {
    if (!job.inputs.includes(source)) {
      throw new ApiError(
        'NL_BAD_REQUEST',
        `input "${source}=${asked}": job "${job.name}" has no input "${source}" (its inputs: ${job.inputs.join(', ') || 'none'})`,
      );
    }
    let version: string;
    try {
      version = await resolveVersion(store, source, asked);
    } catch (err) {
      if (err instanceof VersionNotFoundError)
        throw ApiError.notFound(
          `input "${source}=${asked}": nightless has never seen a version of ${source} that starts with "${asked}"`,
        );
      if (err instanceof AmbiguousVersionError)
        throw new ApiError('NL_AMBIGUOUS', `input "${source}=${asked}": ${err.message}`, {
          candidates: err.candidates,
        });
      throw err;
    }
    const ref = await store.versionRef(source, version);
    if (ref === undefined)
      throw ApiError.notFound(`input "${source}=${asked}": ${source}@${version} was never seen`);
    pins.push({ source, version, ref });
  }
  return pins;
}
