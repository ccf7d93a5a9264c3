import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerClient, ServerUnreachable } from '../../src/agent/server-client.js';

/**
 * The agent's client with two replicas, one answering 503 (its database is away, or it is
 * stopping): single-attempt calls — claims and heartbeats, which loop themselves — move on to
 * the other replica after a failure instead of asking the failing one forever.
 */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function replica(status: number, seen: string[], name: string): Promise<string> {
  const s = createServer((req, res) => {
    seen.push(`${name} ${req.url}`);
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('ServerClient across replicas', () => {
  it('asks the next replica on the next single-attempt call after a 503', async () => {
    const seen: string[] = [];
    const down = await replica(503, seen, 'a');
    const up = await replica(200, seen, 'b');
    const client = new ServerClient({ servers: [down, up], token: 't' });
    const heartbeat = () =>
      client.call({
        method: 'POST',
        path: '/api/agent/heartbeat',
        json: {},
        totalTimeoutMs: 2000,
        attempts: 1,
      });
    await expect(heartbeat()).rejects.toBeInstanceOf(ServerUnreachable);
    expect((await heartbeat()).status).toBe(200);
    expect((await heartbeat()).status).toBe(200);
    expect(seen).toEqual([
      'a /api/agent/heartbeat',
      'b /api/agent/heartbeat',
      'b /api/agent/heartbeat',
    ]);
  });

  it('retries a multi-attempt call on the other replica within the call', async () => {
    const seen: string[] = [];
    const down = await replica(503, seen, 'a');
    const up = await replica(200, seen, 'b');
    const client = new ServerClient({
      servers: [down, up],
      token: 't',
      backoff: { initialMs: 1, maxMs: 5 },
    });
    const answer = await client.call({
      method: 'POST',
      path: '/x',
      json: {},
      totalTimeoutMs: 2000,
      attempts: 3,
    });
    expect(answer.status).toBe(200);
    expect(seen).toEqual(['a /x', 'b /x']);
  });
});
