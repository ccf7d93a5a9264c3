import { matchesAny } from '../../core/glob-match.js';
import type { GitSource, Pipeline } from '../../core/pipeline.js';
import { repoKey } from './repo-url.js';

/**
 * A git ref as a source follows it. Branches are their short name (`main`, as `git ls-remote`
 * polls them). Tags become `tags/<name>`: a source follows tags only when one of its `branches`
 * patterns starts with `tags/` (`tags/v*`), so that a catch-all `**` never turns every tag push
 * into a build. Other refs (`refs/pull/...`, `refs/notes/...`) are not followed.
 */
export function refName(ref: string): { readonly name: string; readonly tag: boolean } | null {
  if (ref.startsWith('refs/heads/')) return { name: ref.slice('refs/heads/'.length), tag: false };
  if (ref.startsWith('refs/tags/'))
    return { name: `tags/${ref.slice('refs/tags/'.length)}`, tag: true };
  return null;
}

export function followsRef(source: GitSource, name: string, tag: boolean): boolean {
  if (tag && !source.branches.some((p) => p.startsWith('tags/'))) return false;
  return matchesAny(name, source.branches);
}

/** The git sources whose URL is any of `repoUrls` (compared by {@link repoKey}). */
export function sourcesForRepo(pipeline: Pipeline, repoUrls: readonly string[]): GitSource[] {
  const keys = new Set(repoUrls.map((u) => repoKey(u)));
  const out: GitSource[] = [];
  for (const s of pipeline.sources.values()) {
    if (s.kind === 'git' && keys.has(repoKey(s.url))) out.push(s);
  }
  return out;
}
