import { createHash } from 'node:crypto';

/**
 * The expected host key, from `host_key:` in one of three forms: an OpenSSH public key
 * (`ssh-ed25519 AAAA…`), a known_hosts line (`host ssh-ed25519 AAAA…`), or a fingerprint
 * (`SHA256:…` as `ssh-keygen -lf` prints it).
 */
export type ExpectedHostKey =
  | { readonly kind: 'key'; readonly type: string; readonly blob: Buffer }
  | { readonly kind: 'fingerprint'; readonly sha256: string };

const KEY_TYPE = /^(ssh-|ecdsa-|sk-)/;

export function parseHostKey(text: string): ExpectedHostKey | null {
  const t = text.trim();
  if (t.startsWith('SHA256:'))
    return { kind: 'fingerprint', sha256: t.slice(7).replace(/=+$/, '') };
  const tokens = t.split(/\s+/);
  const i = tokens.findIndex((tok) => KEY_TYPE.test(tok));
  const type = tokens[i];
  const b64 = tokens[i + 1];
  if (i < 0 || type === undefined || b64 === undefined) return null;
  const blob = Buffer.from(b64, 'base64');
  return blob.length > 0 ? { kind: 'key', type, blob } : null;
}

/** `SHA256:<base64 without padding>`, the OpenSSH fingerprint of a raw key blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function matchesHostKey(expected: ExpectedHostKey, offered: Buffer): boolean {
  return expected.kind === 'key'
    ? expected.blob.equals(offered)
    : fingerprint(offered) === `SHA256:${expected.sha256}`;
}

/** Host key algorithms to ask the server for, so it offers the key type that was configured. */
export function hostKeyAlgorithms(expected: ExpectedHostKey): string[] | null {
  if (expected.kind !== 'key') return null;
  return expected.type === 'ssh-rsa'
    ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
    : [expected.type];
}
