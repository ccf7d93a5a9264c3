import { describe, expect, it } from 'vitest';
import type { GitSource } from '../../src/core/pipeline.js';
import type { ChangedPathsLookup } from '../../src/ingest/changed-paths.js';
import { pathsWhenFiltered } from '../../src/ingest/paths-when-filtered.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

describe('pathsWhenFiltered', () => {
  it('asks the mirror only for a source some consuming job filters by path', async () => {
    const p = pipeline({
      sources: { app: git('main'), docs: git('main'), lib: git('main') },
      jobs: {
        build: job({ inputs: ['app', 'lib'] }),
        site: job({ inputs: ['docs'], pathsIgnore: ['*.png'] }),
        test: job({ inputs: ['lib'], paths: ['src/**'] }),
      },
    });
    const asked: string[] = [];
    const inner: ChangedPathsLookup = {
      changedPaths: (source) => {
        asked.push(source.name);
        return Promise.resolve(['src/a.ts']);
      },
      knownHead: () => Promise.resolve('c0ffee'),
    };
    const lookup = pathsWhenFiltered(inner, () => p);
    const ask = (name: string) =>
      lookup.changedPaths(
        p.sources.get(name) as GitSource,
        null,
        'beef',
        AbortSignal.timeout(1000),
      );
    // Nobody filters app: unknown at once, the mirror not asked (no fetch before storing).
    expect(await ask('app')).toBeNull();
    expect(await ask('lib')).toEqual(['src/a.ts']);
    expect(await ask('docs')).toEqual(['src/a.ts']);
    expect(asked).toEqual(['lib', 'docs']);
    expect(await lookup.knownHead('app', 'main')).toBe('c0ffee');
  });
});
