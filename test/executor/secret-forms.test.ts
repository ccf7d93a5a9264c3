import { describe, expect, it } from 'vitest';
import { MIN_DERIVED_SECRET_LENGTH, secretForms } from '../../src/executor/secret-forms.js';
import { SecretMasker } from '../../src/executor/secret-masker.js';

const mask = (secrets: string[], text: string) =>
  new SecretMasker(secrets).mask(Buffer.from(text)).toString('utf8');

describe('secretForms', () => {
  const secret = 'hunter2-Sup3r/Secret+Value "q"&x';

  it('masks base64 in all three alignments inside a longer stream, whatever follows', () => {
    for (const before of ['', 'a', 'ab', 'abc', 'user:']) {
      for (const after of ['', '\n', 'q', 'qq', 'rest of the stream']) {
        const encoded = Buffer.from(before + secret + after).toString('base64');
        const masked = mask([secret], `Authorization: Basic ${encoded}`);
        expect(masked, JSON.stringify([before, after])).toContain('***');
        // What is left are at most the few characters the neighbours share with the secret.
        expect(masked.length).toBeLessThan(`Authorization: Basic ${encoded}`.length - 30);
      }
    }
  });

  it('masks base64url, URL-encoding (also with + for spaces) and JSON escaping', () => {
    const spaced = 'with a space/and+more';
    const url = Buffer.from(`xy${secret}`).toString('base64url');
    expect(mask([secret], `t=${url}`)).toMatch(/^t=eHl\*\*\*/);
    expect(mask([secret], `?t=${encodeURIComponent(secret)}&`)).toBe('?t=***&');
    expect(mask([spaced], `q=${encodeURIComponent(spaced).replaceAll('%20', '+')}`)).toBe('q=***');
    expect(mask([secret], `{"t":${JSON.stringify(secret)}}`)).toBe('{"t":"***"}');
    const multi = 'line one of it\nline two "quoted"\ttab';
    expect(mask([multi], JSON.stringify({ k: multi }))).toBe('{"k":"***"}');
  });

  it('masks each line of a multi-line secret on its own', () => {
    const pem = [
      '-----BEGIN PRIVATE KEY-----',
      'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
      'x',
      '-----END PRIVATE KEY-----',
    ].join('\r\n');
    expect(mask([pem], 'key: MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7 (line 2)')).toBe(
      'key: *** (line 2)',
    );
    // A one-character line of it is not a secret on its own.
    expect(mask([pem], 'x marks the spot')).toBe('x marks the spot');
  });

  it(`derives nothing from secrets under ${MIN_DERIVED_SECRET_LENGTH} bytes (tiny cores would mask anything)`, () => {
    expect(secretForms('abc')).toEqual(['abc']);
    expect(secretForms('a/b+c d')).toEqual(['a/b+c d']);
    const base64OfShort = Buffer.from('xa/b+c d').toString('base64');
    expect(mask(['a/b+c d'], base64OfShort)).toBe(base64OfShort);
    // At the minimum, every derived form is at least that long too.
    for (const f of secretForms('12345678'))
      expect(Buffer.byteLength(f)).toBeGreaterThanOrEqual(MIN_DERIVED_SECRET_LENGTH);
  });

  it('lists each form once, the value first', () => {
    const forms = secretForms('plainvalue123');
    expect(forms[0]).toBe('plainvalue123');
    expect(new Set(forms).size).toBe(forms.length);
    // URL and JSON forms equal the value here: only the three base64 cores are added.
    expect(forms).toHaveLength(4);
  });

  it('holds back enough bytes for the longest form', () => {
    const long = 'k'.repeat(90);
    const masker = new SecretMasker([long]);
    const longest = Math.max(...secretForms(long).map((f) => Buffer.byteLength(f)));
    expect(longest).toBe(120);
    expect(masker.holdBack).toBe(longest - 1);
  });
});
