import { describe, expect, it } from 'vitest';
import { createColours } from '../../../src/cli/format/colour.js';
import { renderFields, renderTable } from '../../../src/cli/format/table.js';

describe('renderTable', () => {
  it('aligns columns with two spaces and no trailing spaces', () => {
    const lines = renderTable(
      ['JOB', 'STATE', 'NOTE'],
      [
        ['build', 'failed', 'exit code 1'],
        ['integration', 'passed', ''],
      ],
    );
    expect(lines).toEqual([
      'JOB          STATE   NOTE',
      'build        failed  exit code 1',
      'integration  passed',
    ]);
  });

  it('aligns right-aligned columns to the right', () => {
    expect(
      renderTable(
        ['ID', 'JOB'],
        [
          ['#7', 'a'],
          ['#142', 'b'],
        ],
        { alignRight: [0] },
      ),
    ).toEqual(['  ID  JOB', '  #7  a', '#142  b']);
  });

  it('measures cells without their colour codes', () => {
    const c = createColours(true);
    const lines = renderTable(
      ['STATE', 'X'],
      [
        [c.green('passed'), 'x'],
        ['error', 'y'],
      ],
    );
    expect(lines[1]).toBe(`${c.green('passed')}  x`);
    expect(lines[2]).toBe('error   y');
  });

  it('renders missing cells as empty', () => {
    expect(renderTable(['A', 'B', 'C'], [['1']])).toEqual(['A  B  C', '1']);
  });
});

describe('renderFields', () => {
  it('aligns values and indents continuation lines', () => {
    expect(
      renderFields([
        ['state', 'passed'],
        ['inputs', 'app@1\nglibc@2'],
      ]),
    ).toEqual(['state:   passed', 'inputs:  app@1', '         glibc@2']);
  });
});
