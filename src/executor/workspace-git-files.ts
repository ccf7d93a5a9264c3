/** Files nightless writes into the workspace: they must not show up in `git status`. */
export const EXCLUDES = '/.nightless/\n/nightless-inputs.json\n';
/**
 * For the checkouts that write a tree's index: format version 2, whatever the server user's git
 * config asks for (`feature.manyFiles` means 4). A warm tree keeps only a version-2 index, the
 * one format that cannot hold skip-worktree entries (warm-tree.ts); git keeps an index's version
 * when a step's own git rewrites it.
 */
export const INDEX_V2 = ['-c', 'index.version=2'];
/** What `git remote add origin <url>` writes. */
export function remoteConfig(url: string): string {
  return `[remote "origin"]\n\turl = ${configValue(url)}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`;
}

/** A git config value, quoted: `\\`, `"` and control characters escaped, `#`/`;` kept literal. */
function configValue(v: string): string {
  const escaped = v
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')
    .replace(/\x08/g, '\\b');
  return `"${escaped}"`;
}
