/**
 * A secret reaches a log in more shapes than its own bytes: a step base64-encodes it for an
 * Authorization header, URL-encodes it into a query, JSON-escapes it into a config file, or prints
 * a PEM key a line at a time. `secretForms` lists the byte strings to mask for one secret value.
 * Pure and deterministic.
 */

/**
 * Secrets shorter than this are masked only as written: their derived forms would be a handful
 * of characters (a 4-byte secret has base64 cores of 4–5 characters) and would mask unrelated
 * text. Lines of a multi-line secret shorter than this are not masked on their own either.
 */
export const MIN_DERIVED_SECRET_LENGTH = 8;

/**
 * The value itself (the caller filters tiny values), and for values of at least
 * MIN_DERIVED_SECRET_LENGTH bytes:
 * - its base64 in each of the three alignments it can have inside a longer base64 stream
 *   (only the characters that depend on the secret's bytes alone), in standard and URL-safe
 *   alphabets;
 * - `encodeURIComponent`, and the form encoding that writes a space as `+`;
 * - JSON string escaping (`JSON.stringify` without the quotes);
 * - each line of a multi-line value that is itself at least MIN_DERIVED_SECRET_LENGTH long.
 * Forms equal to the value, or shorter than the minimum, are left out; no duplicates.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length >= MIN_DERIVED_SECRET_LENGTH) {
    for (const core of base64Cores(bytes)) {
      forms.add(core);
      forms.add(core.replaceAll('+', '-').replaceAll('/', '_'));
    }
    const uri = encodeURIComponent(value);
    forms.add(uri);
    forms.add(uri.replaceAll('%20', '+'));
    forms.add(JSON.stringify(value).slice(1, -1));
    for (const line of value.split(/\r?\n/)) {
      if (Buffer.byteLength(line) >= MIN_DERIVED_SECRET_LENGTH) forms.add(line);
    }
  }
  return [...forms].filter((f) => f === value || Buffer.byteLength(f) >= MIN_DERIVED_SECRET_LENGTH);
}

/**
 * The base64 characters determined by `bytes` alone when they start at offset 0, 1 or 2 of a
 * 3-byte group: encode with that many filler bytes in front, then drop the characters that mix
 * filler bits in (0, 2 or 3 in front) and the partial group at the end (bits of whatever follows).
 */
function base64Cores(bytes: Buffer): string[] {
  const cores: string[] = [];
  for (const shift of [0, 1, 2] as const) {
    const n = shift + bytes.length;
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    const start = [0, 2, 3][shift]!;
    const end = 4 * Math.floor(n / 3) + [0, 1, 2][n % 3]!;
    cores.push(encoded.slice(start, end));
  }
  return cores;
}
