import { describe, expect, it } from 'vitest';
import { consumersOf, findCycles, topologicalOrder } from '../../src/config/graph.js';

const up = (input: string) => (input.includes('.') ? input.split('.')[0]! : null);

describe('job graph', () => {
  it('orders upstream first, declaration order among ready jobs', () => {
    const jobs = [
      { name: 'deploy', inputs: ['test.ok', 'build.bin'] },
      { name: 'lint', inputs: ['src'] },
      { name: 'test', inputs: ['build.bin'] },
      { name: 'build', inputs: ['src'] },
    ];
    expect(topologicalOrder(jobs, up)).toEqual(['lint', 'build', 'test', 'deploy']);
    expect(findCycles(jobs, up)).toEqual([]);
  });

  it('names a cycle from its earliest-declared job and locates the closing input', () => {
    const jobs = [
      { name: 'x', inputs: ['src'] },
      { name: 'a', inputs: ['src', 'c.out'] },
      { name: 'b', inputs: ['a.out'] },
      { name: 'c', inputs: ['b.out'] },
    ];
    expect(findCycles(jobs, up)).toEqual([{ jobs: ['a', 'b', 'c', 'a'], job: 'a', inputIndex: 1 }]);
  });

  it('finds self-cycles and reports each cycle once', () => {
    const jobs = [
      { name: 'a', inputs: ['a.out', 'b.out'] },
      { name: 'b', inputs: ['a.out'] },
    ];
    expect(findCycles(jobs, up)).toEqual([
      { jobs: ['a', 'a'], job: 'a', inputIndex: 0 },
      { jobs: ['a', 'b', 'a'], job: 'a', inputIndex: 1 },
    ]);
  });

  it('indexes consumers for every source', () => {
    const jobs = [
      { name: 'b', inputs: ['src', 'src'] },
      { name: 'a', inputs: ['src'] },
    ];
    expect(Object.fromEntries(consumersOf(['src', 'unused'], jobs))).toEqual({
      src: ['b', 'a'],
      unused: [],
    });
  });
});
