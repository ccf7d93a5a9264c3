import type { GitSource, HttpSource, SourceName } from '../../core/pipeline.js';
import type { SourceHead } from '../../core/scheduler/index.js';
import type { NewEvent } from '../../store/ports.js';
import { changedPathsOrUnknown, type ChangedPathsLookup } from '../changed-paths.js';
import { checkHttp } from './http-check.js';
import { headsMatching, lsRemote, type LsRemoteLimits, type RemoteHead } from './git-ls-remote.js';

// What one check of a source finds, apart from when checks run (the poller's schedule): the
// part that differs between git and http sources.

/** Per `source\0ref`: the version a check reported and the head it was compared with. */
export type Reported = [string, { sha: string; head: string | undefined }];

interface Findings {
  /** Versions to append to the inbox, as poll events. */
  readonly found: NewEvent[];
  /** A version changed on a ref that had a head already: an event should have announced it. */
  readonly missed: boolean;
  /** What to remember as reported once `found` is in the inbox. */
  readonly reported: Reported[];
}

interface GitCheckContext {
  /** The pipeline's `network:` limits for the `ls-remote` (`pollLimits`). */
  readonly limits: LsRemoteLimits;
  /** What earlier checks reported, per `source\0ref`. */
  readonly reported: ReadonlyMap<string, { sha: string; head: string | undefined }>;
  readonly changedPaths: ChangedPathsLookup | undefined;
  /** Every head of the source's repository, from an `ls-remote` shared by a group. */
  readonly repoHeads: Promise<readonly RemoteHead[]> | undefined;
}

export async function findGitVersions(
  source: GitSource,
  known: readonly SourceHead[],
  at: number,
  ctx: GitCheckContext,
): Promise<Findings> {
  const heads = ctx.repoHeads
    ? headsMatching(await ctx.repoHeads, source.branches)
    : await lsRemote(source.url, source.branches, ctx.limits);
  const changed = heads.filter((h) => {
    const head = known.find((k) => k.ref === h.ref)?.version;
    if (head === h.sha) return false;
    // Reported already against this same head and decided (an ancestor of it: a branch
    // rewound to an older commit): telling the scheduler again changes nothing, and it
    // is not another missed event.
    const last = ctx.reported.get(`${source.name}\0${h.ref}`);
    return !(last?.sha === h.sha && last.head === head);
  });
  const reported: Reported[] = changed.map((h) => [
    `${source.name}\0${h.ref}`,
    { sha: h.sha, head: known.find((k) => k.ref === h.ref)?.version },
  ]);
  const missed = changed.some((h) => known.some((k) => k.ref === h.ref));
  const found = await Promise.all(
    changed.map(async (h) => {
      const before = known.find((k) => k.ref === h.ref)?.version;
      // A new branch of a known source: against the commit's parent. The first version
      // ever seen of a source has nothing to compare with: unknown, so every job builds it.
      const paths =
        ctx.changedPaths && known.length > 0
          ? await changedPathsOrUnknown(ctx.changedPaths, source, before ?? null, h.sha)
          : null;
      return pollEvent(source.name, h.sha, h.ref, at, paths);
    }),
  );
  return { found, missed, reported };
}

/** `etags`: the last ETag per source, sent as `If-None-Match` and updated from the answer. */
export async function findHttpVersion(
  source: HttpSource,
  known: readonly SourceHead[],
  at: number,
  etags: Map<SourceName, string>,
  timeoutMs: number,
): Promise<Findings> {
  let found: NewEvent[] = [];
  let missed = false;
  const etag = etags.get(source.name) ?? null;
  const res = await checkHttp(source.url, {
    etag,
    headers: source.headers,
    timeoutMs,
    maxBytes: source.maxBytes,
    policy: {
      allowPrivate: source.allowPrivate,
      allowHint: `allow_private: true on source "${source.name}"`,
    },
  });
  if (res) {
    if (res.etag) etags.set(source.name, res.etag);
    if (known[0]?.version !== res.version) {
      missed = known.length > 0;
      found = [pollEvent(source.name, res.version, null, at)];
    }
  }
  return { found, missed, reported: [] };
}

function pollEvent(
  source: SourceName,
  version: string,
  ref: string | null,
  at: number,
  changedPaths: readonly string[] | null = null,
): NewEvent {
  return {
    kind: 'source',
    source,
    version,
    ref,
    origin: 'poll',
    deliveryId: null,
    changedPaths,
    producedBy: null,
    receivedAt: at,
  };
}
