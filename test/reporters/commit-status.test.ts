import { afterEach, describe, expect, it } from 'vitest';
import type { ReportDef } from '../../src/core/pipeline.js';
import { parseRepoPath } from '../../src/reporters/commit-status/repo-path.js';
import { PUBLIC_URL, Receiver, SHA, startReporting, waitFor, type Reporting } from './helpers.js';

type Provider = 'github' | 'gitlab' | 'gitea';

/** What each forge documents: endpoint, auth header, field names and state words. */
const FORGES: Record<
  Provider,
  {
    path: (sha: string) => string;
    auth: [string, string];
    nameField: 'context' | 'name';
    states: { queued: string; started: string; passed: string; failed: string };
  }
> = {
  github: {
    path: (sha) => `/repos/team/app/statuses/${sha}`,
    auth: ['authorization', 'Bearer forge-token'],
    nameField: 'context',
    states: { queued: 'pending', started: 'pending', passed: 'success', failed: 'failure' },
  },
  gitlab: {
    path: (sha) => `/api/v4/projects/team%2Fapp/statuses/${sha}`,
    auth: ['private-token', 'forge-token'],
    nameField: 'name',
    states: { queued: 'pending', started: 'running', passed: 'success', failed: 'failed' },
  },
  gitea: {
    path: (sha) => `/api/v1/repos/team/app/statuses/${sha}`,
    auth: ['authorization', 'token forge-token'],
    nameField: 'context',
    states: { queued: 'pending', started: 'pending', passed: 'success', failed: 'failure' },
  },
};

describe.each(Object.keys(FORGES) as Provider[])(
  'commit statuses on %s (local fake forge)',
  (provider) => {
    const forge = FORGES[provider];
    let receiver: Receiver;
    let rep: Reporting;

    afterEach(async () => {
      await rep.stop();
      await receiver.stop();
    });

    async function start(allowPrivate = true): Promise<void> {
      receiver = new Receiver((_r, res) =>
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}'),
      );
      const base = await receiver.start();
      const def: ReportDef = {
        kind: 'commit_status',
        provider,
        token: 'forge-token',
        baseUrl: base,
        context: 'ci/nightless',
        maxAttempts: 3,
        allowPrivate, // the fake forge is on 127.0.0.1
      };
      rep = await startReporting([def]);
    }

    const bodies = () => receiver.requests.map((r) => JSON.parse(r.body) as Record<string, string>);

    it('sets pending, then the result with the build URL and coverage in the description', async () => {
      await start();
      await rep.h.push('app', SHA(1));
      await rep.h.settle();
      await waitFor('three statuses', () => receiver.requests.length === 3);

      for (const r of receiver.requests) {
        expect(r.method).toBe('POST');
        expect(r.url).toBe(forge.path(SHA(1)));
        expect(r.headers[forge.auth[0]]).toBe(forge.auth[1]);
        expect(r.headers['content-type']).toBe('application/json');
      }
      if (provider === 'github') {
        expect(receiver.requests[0]!.headers.accept).toBe('application/vnd.github+json');
      }
      const [queued, started, finished] = bodies();
      expect(queued).toEqual({
        state: forge.states.queued,
        target_url: `${PUBLIC_URL}/builds/1`,
        description: 'queued: build #1',
        [forge.nameField]: 'ci/nightless',
      });
      expect(started?.state).toBe(forge.states.started);
      expect(finished?.state).toBe(forge.states.passed);
      expect(finished?.description).toMatch(/^passed in \d+ms · lines 81\.0%$/);
    });

    it('refuses a base_url on 127.0.0.1 without allow_private: dead at once, forge never contacted', async () => {
      await start(false);
      await rep.h.push('app', SHA(1));
      await rep.h.settle();
      await waitFor('three dead deliveries', async () => {
        const dead = await rep.store.deliveries.listDeliveries({ state: 'dead', limit: 10 });
        return dead.length === 3;
      });
      const [d] = await rep.store.deliveries.listDeliveries({ state: 'dead', limit: 1 });
      expect(d?.attempts).toBe(1);
      expect(d?.lastError).toBe(
        `refused: 127.0.0.1 is loopback; allow with allow_private: true on the ${provider} commit_status report`,
      );
      expect(receiver.requests).toHaveLength(0);
    });

    it('reports a failure, and a skip with the identical build’s result', async () => {
      await start();
      rep.h.executor.script('build', { state: 'failed', step: 'test' });
      await rep.h.push('app', SHA(1));
      await rep.h.settle();
      await rep.h.push('app', SHA(2));
      await rep.h.settle();
      await rep.h.push('app', SHA(1)); // a revert: identical to build #1
      await rep.h.settle();
      await waitFor('seven statuses', () => receiver.requests.length === 7);

      const all = bodies();
      expect(all[2]).toMatchObject({
        state: forge.states.failed,
        description: expect.stringMatching(/^failed \[user\] at test in/),
      });
      expect(all[5]).toMatchObject({ state: forge.states.passed });
      const skip = receiver.requests[6]!;
      expect(skip.url).toBe(forge.path(SHA(1)));
      expect(all[6]).toMatchObject({
        state: forge.states.failed,
        description: expect.stringMatching(/^identical to build #1: failed \[user\] at test/),
      });
    });
  },
);

describe('repository of a git URL', () => {
  it.each([
    ['https://github.com/team/app.git', 'https://github.com', ['team', 'app']],
    [
      'git@gitlab.example.com:group/sub/app.git',
      'https://gitlab.example.com',
      ['group', 'sub', 'app'],
    ],
    ['ssh://git@gitea.example.com:2222/team/app', 'https://gitea.example.com', ['team', 'app']],
    ['http://127.0.0.1:3000/team/app', 'http://127.0.0.1:3000', ['team', 'app']],
  ])('%s', (url, origin, segments) => {
    expect(parseRepoPath(url)).toEqual({ origin, segments });
  });

  it.each(['/srv/git/app.git', './app', 'https://example.com/app'])(
    '%s names no repository',
    (url) => {
      expect(parseRepoPath(url)).toBeNull();
    },
  );
});
