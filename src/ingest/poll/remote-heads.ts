/** A branch head of a git repository, as `git ls-remote --heads` names it (no `refs/heads/`). */
export interface RemoteHead {
  readonly ref: string;
  readonly sha: string;
}

/**
 * Characters of a heads listing kept (ls-remote's or upload-pack's): a repository with very many
 * branches still answers in full.
 */
export const HEADS_OUTPUT_CHARS = 8 * 1024 * 1024;
