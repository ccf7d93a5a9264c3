import { expect, it } from 'vitest';
import { TokenNameTaken } from '../../../src/store/access-ports.js';
import { access } from '../ports.js';
import { forEachStore } from './fixtures.js';

const token = (name: string, sha256: string) => ({
  name,
  sha256,
  scopes: ['read', 'trigger'] as const,
  createdAt: 1000,
  createdBy: 'bootstrap',
  expiresAt: null,
});

forEachStore('access (tokens and audit trail)', (store) => {
  it('keeps hashes, refuses a taken name, revokes once, and gives a revoked name to a new token', async () => {
    const a = access(store());
    await a.createToken(token('ci', 'a'.repeat(64)));
    await expect(a.createToken(token('ci', 'b'.repeat(64)))).rejects.toBeInstanceOf(TokenNameTaken);
    expect(await a.findTokenBySha256('a'.repeat(64))).toMatchObject({
      name: 'ci',
      scopes: ['read', 'trigger'],
      revokedAt: null,
      lastUsedAt: null,
    });
    await a.touchToken('ci', 2000);
    expect((await a.listTokens())[0]?.lastUsedAt).toBe(2000);
    expect(await a.revokeToken('ci', 3000)).toBe(true);
    expect(await a.revokeToken('ci', 3001)).toBe(false);
    expect(await a.revokeToken('nobody', 3001)).toBe(false);
    expect((await a.findTokenBySha256('a'.repeat(64)))?.revokedAt).toBe(3000);
    await a.createToken(token('ci', 'c'.repeat(64)));
    expect(await a.findTokenBySha256('a'.repeat(64))).toBeNull();
    expect((await a.findTokenBySha256('c'.repeat(64)))?.revokedAt).toBeNull();
  });

  it('lists tokens newest first, revoked ones included', async () => {
    const a = access(store());
    await a.createToken({ ...token('old', '1'.repeat(64)), createdAt: 1 });
    await a.createToken({ ...token('new', '2'.repeat(64)), createdAt: 2 });
    await a.revokeToken('old', 3);
    expect((await a.listTokens()).map((t) => [t.name, t.revokedAt])).toEqual([
      ['new', null],
      ['old', 3],
    ]);
  });

  it('lists audit entries newest first, since a time, and prunes old ones', async () => {
    const a = access(store());
    for (const at of [100, 200, 300]) {
      await a.appendAudit({
        at,
        actor: 'ci',
        address: '127.0.0.1',
        action: 'POST /api/jobs/:job/trigger',
        target: '{"job":"build"}',
        status: 202,
        errorCode: null,
      });
    }
    expect((await a.listAudit({ limit: 10 })).map((e) => e.at)).toEqual([300, 200, 100]);
    expect((await a.listAudit({ since: 200, limit: 10 })).map((e) => e.at)).toEqual([300, 200]);
    expect((await a.listAudit({ limit: 1 })).map((e) => e.at)).toEqual([300]);
    expect(await a.pruneAudit(250)).toBe(2);
    expect((await a.listAudit({ limit: 10 })).map((e) => e.at)).toEqual([300]);
  });
});
