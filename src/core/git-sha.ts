/**
 * A full git object name: 40 hex digits (SHA-1) or 64 (SHA-256), lower case as git prints it.
 * What may be handed to git as an object id, looked up as a file, or trusted from a ref file;
 * abbreviations and anything else are not.
 */
export function isFullSha(text: string): boolean {
  return FULL_SHA.test(text);
}

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
