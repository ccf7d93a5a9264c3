import { afterEach, describe, expect, it } from 'vitest';
import type { Ancestry } from '../../src/core/event.js';
import type { VersionFacts } from '../../src/scheduler/version-facts.js';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

/**
 * A mirror whose fetch of the pushed commit is still running: `notAncestorYet` answers at once,
 * `relation` (which waits for that fetch) only when the test lets the fetch end.
 */
function slowFetchMirror(answer: Exclude<Ancestry['relation'], 'unknown'>, shown: boolean) {
  let endFetch: () => void = () => undefined;
  const fetched = new Promise<void>((r) => (endFetch = r));
  const asked: string[] = [];
  const facts: VersionFacts = {
    notAncestorYet: (_s, version) => {
      asked.push(`early ${version}`);
      return Promise.resolve(shown);
    },
    relation: async (_s, version) => {
      asked.push(`relation ${version}`);
      await fetched;
      return answer;
    },
  };
  return { facts, endFetch, asked };
}

describe('scheduler: a pushed commit shown not to be an ancestor is decided before its fetch ends', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('queues the build at once; the force push is recorded once the commit is fetched', async () => {
    const m = slowFetchMirror('unrelated', true);
    h = await startHarness(p, { slots: 0, facts: m.facts });
    await h.push('app', 'v1');
    await h.decided();
    await h.push('app', 'v2');
    // Decided (build queued) while the fetch still runs: `decided()` would wait for it.
    await expect
      .poll(async () => (await h.builds()).map((b) => b.inputs[0]?.version), { timeout: 5000 })
      .toEqual(['v1', 'v2']);
    const [decision] = (await h.decisions({ version: 'v2' })).filter(
      (d) => d.rule === 'new-version',
    );
    expect(decision?.detail).not.toMatch(/force push/);
    const eventId = decision?.eventId ?? 0;
    expect((await h.store.read.getEvent(eventId))?.ancestry).toBeNull();

    m.endFetch();
    await h.decided();
    expect((await h.store.read.getEvent(eventId))?.ancestry).toEqual({
      relation: 'unrelated',
      head: 'v1',
    });
    const after = (await h.decisions({ version: 'v2' })).find((d) => d.rule === 'new-version');
    expect(after?.detail).toMatch(
      /is the new head of main \(\w+\) — force push: not a descendant of app@v1 \(known once the commit was fetched\)$/,
    );
    expect(m.asked).toEqual(['early v2', 'relation v2']);
  });

  it('a fast-forward gets its ancestry recorded and no note', async () => {
    const m = slowFetchMirror('descendant', true);
    h = await startHarness(p, { slots: 0, facts: m.facts });
    await h.push('app', 'v1');
    await h.decided();
    await h.push('app', 'v2');
    m.endFetch();
    await h.decided();
    const d = (await h.decisions({ version: 'v2' })).find((x) => x.rule === 'new-version');
    expect(d?.detail).not.toMatch(/—/);
    expect((await h.store.read.getEvent(d?.eventId ?? 0))?.ancestry).toEqual({
      relation: 'descendant',
      head: 'v1',
    });
  });

  it('not shown (the mirror may hold it): waits for the exact answer, and an ancestor never builds', async () => {
    const m = slowFetchMirror('ancestor', false);
    h = await startHarness(p, { slots: 0, facts: m.facts });
    await h.push('app', 'v2');
    await h.decided();
    await h.push('app', 'v1');
    await new Promise((r) => setTimeout(r, 200));
    // Still undecided: the question waits for the fetch.
    expect((await h.builds()).map((b) => b.inputs[0]?.version)).toEqual(['v2']);
    m.endFetch();
    await h.decided();
    expect((await h.builds()).map((b) => b.inputs[0]?.version)).toEqual(['v2']);
    expect((await h.decisions({ version: 'v1' })).map((d) => d.rule)).toEqual(['ancestor']);
  });
});
