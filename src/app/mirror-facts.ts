import type { GitMirrors } from '../executor/git-mirror.js';
import type { VersionFacts } from '../scheduler/version-facts.js';

/** The scheduler's questions about versions, answered by the git mirrors the checkouts use. */
export function mirrorFacts(mirrors: GitMirrors): VersionFacts {
  return {
    relation: (source, version, head, signal) =>
      mirrors.relation(source.url, version, head, signal),
    known: (source, version, head) => mirrors.knownRelation(source.url, version, head),
    notAncestorYet: (source, version, head) => mirrors.notAncestorYet(source.url, version, head),
    prefetch: (source, version) => mirrors.rounds.prefetchOnce(source.url, version),
  };
}
