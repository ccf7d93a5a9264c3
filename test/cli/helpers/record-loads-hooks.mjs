// Module hooks (run on the loader's thread): record each resolved URL, change nothing.
import { appendFileSync } from 'node:fs';

/**
 * @param {string} specifier
 * @param {object} context
 * @param {(specifier: string, context: object) => Promise<{ url: string }>} nextResolve
 * @returns {Promise<{ url: string }>}
 */
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const to = process.env.RECORD_LOADS_TO;
  if (to) appendFileSync(to, `${resolved.url}\n`);
  return resolved;
}
