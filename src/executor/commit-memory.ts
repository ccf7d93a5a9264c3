/** How long a commit found in a mirror is taken as there without asking git (a `gc` may prune it). */
const KNOWN_TTL_MS = 60 * 60_000;
/**
 * How long "not in the remote as of the fetch at T" stands for the scheduler's ancestry
 * question. Longer than a backlog takes to drain (expired answers are asked again, a start-early
 * round per scheduler batch); harmless when stale: the version is then decided as new, a version
 * announced again is checked again, and builds never consult it (they always fetch).
 */
export const MISSING_TTL_MS = 10 * 60_000;
/** Per table; beyond it the oldest quarter goes (forgotten ones are asked again, a round per batch). */
const MAX_ENTRIES = 50_000;

/** Why a commit counts as missing, and since when (the start of the fetch that did not bring it). */
export interface Missing {
  readonly at: number;
  readonly reason: string;
}

/**
 * What this process learnt about commits in its git mirrors, keyed by mirror and full commit id:
 * commits are immutable, so "found there" holds for long; "not there after a fetch" is only a
 * snapshot of the remote and expires sooner. Bounded: a full table drops its oldest entries.
 */
export class CommitMemory {
  private readonly known = new Map<string, number>();
  private readonly missing = new Map<string, Missing>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Forgets everything (the mirrors were removed under us: nothing remembered holds). */
  clear(): void {
    this.known.clear();
    this.missing.clear();
  }

  isKnown(mirror: string, sha: string): boolean {
    const at = this.known.get(key(mirror, sha));
    return at !== undefined && this.now() - at < KNOWN_TTL_MS;
  }

  /** Records `commit` as present in `mirror` (and forgets that it was missing); returns it. */
  remember(mirror: string, commit: string): string {
    trim(this.known);
    this.known.set(key(mirror, commit), this.now());
    this.missing.delete(key(mirror, commit));
    return commit;
  }

  markMissing(mirror: string, sha: string, at: number, reason: string): void {
    trim(this.missing);
    this.missing.set(key(mirror, sha), { at, reason });
  }

  /** The still-valid "missing" record of `sha` in `mirror`, or `null`. */
  missingSince(mirror: string, sha: string): Missing | null {
    const m = this.missing.get(key(mirror, sha));
    if (m === undefined) return null;
    if (this.now() - m.at < MISSING_TTL_MS) return m;
    this.missing.delete(key(mirror, sha));
    return null;
  }
}

/** Drops the oldest quarter of a full table (a `Map` iterates in insertion order). */
function trim(table: Map<string, unknown>): void {
  if (table.size < MAX_ENTRIES) return;
  let drop = MAX_ENTRIES / 4;
  for (const k of table.keys()) {
    if (drop-- <= 0) break;
    table.delete(k);
  }
}

function key(mirror: string, sha: string): string {
  return `${mirror}\0${sha}`;
}
