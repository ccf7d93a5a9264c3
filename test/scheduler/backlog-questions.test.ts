import { afterEach, describe, expect, it } from 'vitest';
import { mirrorFacts } from '../../src/app/mirror-facts.js';
import { startHarness, type Harness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { countedMirrors, makeRepo, tempDirs } from '../executor/helpers.js';

/**
 * A backlog the mirror's start-early rounds never saw (the inbox after a restart) or no longer
 * remember (more missing commits than its memory holds): before, every event's ancestry
 * question fetched on its own, ~9 events a second; the scheduler now hands the batch's versions
 * to one round first.
 */
const tmp = tempDirs();
const bogus = (i: number): string => i.toString(16).padStart(40, 'e');

describe('scheduler: a backlog of versions the mirror never saw', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    await tmp.cleanup();
  });

  it('is asked about in one start-early round, not one fetch per event', async () => {
    const repo = await tmp.make();
    const [c1] = makeRepo(repo, [{ 'a.txt': '1\n' }]);
    const { mirrors, calls } = await countedMirrors(tmp);
    const p = pipeline({
      sources: { app: git('main', { url: repo }) },
      jobs: { build: job({ inputs: ['app'] }) },
    });
    // The server's own wiring of the scheduler's questions to the mirrors.
    h = await startHarness(p, { slots: 0, facts: mirrorFacts(mirrors) });
    await h.push('app', c1!);
    await h.decided();
    const before = calls.length;
    // Pushed without the start-early fetch the webhook endpoint would have begun.
    for (let i = 0; i < 120; i++) await h.push('app', bogus(i));
    await h.decided();
    const builds = await h.builds();
    expect(builds.filter((b) => b.state === 'queued').map((b) => b.inputs[0]?.version)).toEqual([
      bogus(119),
    ]);
    // Every version but the first was decided against a head the fetch did not find.
    const last = (await h.decisions({ version: bogus(119) })).find((d) => d.rule === 'new-version');
    expect((await h.store.read.getEvent(last?.eventId ?? 0))?.ancestry?.relation).toBe('unknown');
    // One event at a time this was ≥ 2 git runs per event (a `rev-parse`, a fetch): 240 here.
    expect(calls.length - before).toBeLessThanOrEqual(24);
  });
});
