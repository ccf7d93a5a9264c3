/** A location inside the parsed document: mapping keys and list indices. */
export type Path = readonly (string | number)[];

/** A stable map key for a path (provenance lookups). */
export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `jobs.build.inputs[1]`; keys that are not plain words are quoted: `match["a.b"]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
