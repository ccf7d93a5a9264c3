/** Files nightless writes into the workspace: they must not show up in `git status`. */
export const EXCLUDES = '/.nightless/\n/nightless-inputs.json\n';
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
