import { secretForms } from './secret-forms.js';

/** Values shorter than this are not masked: masking `a` or `12` would shred every log line. */
const MIN_SECRET_LENGTH = 3;
const MASK = Buffer.from('***');

/**
 * Replaces secret values in raw output bytes with `***`. Works on bytes, not strings, so output
 * that is not valid UTF-8 passes through unchanged apart from the masked spans. Each value is
 * masked in its encoded forms too (base64, URL, JSON, single lines: `secret-forms.ts`), and
 * `holdBack` covers the longest form, so a split write of an encoded secret is still seen whole.
 */
export class SecretMasker {
  private readonly secrets: readonly Buffer[];
  /** Bytes a caller must hold back at a forced cut so that a secret split by the cut is still seen whole. */
  readonly holdBack: number;

  constructor(values: readonly string[]) {
    const unique = [
      ...new Set(values.filter((v) => v.length >= MIN_SECRET_LENGTH).flatMap(secretForms)),
    ];
    // Longest first: a secret that contains another is masked as a whole.
    this.secrets = unique.map((v) => Buffer.from(v)).sort((a, b) => b.length - a.length);
    this.holdBack = Math.max(0, ...this.secrets.map((s) => s.length - 1));
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  mask(buf: Buffer): Buffer {
    let out = buf;
    for (const secret of this.secrets) {
      let at = out.indexOf(secret);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at !== -1) {
        parts.push(out.subarray(from, at), MASK);
        from = at + secret.length;
        at = out.indexOf(secret, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }
}
