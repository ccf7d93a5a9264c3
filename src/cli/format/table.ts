import { visibleLength } from './colour.js';

export interface TableOptions {
  /** Columns aligned to the right (numbers); indexes into the header. */
  readonly alignRight?: readonly number[];
  /** Spaces between columns. */
  readonly gap?: number;
}

/**
 * Renders rows under a header as aligned plain-text columns, one string per line (no trailing
 * newline). Cells may contain ANSI colours; widths are measured without them. The last column is
 * never padded so lines carry no trailing spaces. Missing cells render empty.
 */
export function renderTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  options: TableOptions = {},
): string[] {
  const gap = ' '.repeat(options.gap ?? 2);
  const right = new Set(options.alignRight ?? []);
  const widths = header.map((h, i) =>
    Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))),
  );
  const line = (cells: readonly string[]): string =>
    header
      .map((_, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat((widths[i] ?? 0) - visibleLength(cell));
        if (right.has(i)) return pad + cell;
        return i === header.length - 1 ? cell : cell + pad;
      })
      .join(gap)
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** `label: value` lines with the values aligned, for detail views such as `nightless show`. */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(0, ...fields.map(([label]) => label.length + 1));
  const lines: string[] = [];
  for (const [label, value] of fields) {
    const [first = '', ...rest] = value.split('\n');
    lines.push(`${`${label}:`.padEnd(width)}  ${first}`.trimEnd());
    for (const more of rest) lines.push(`${' '.repeat(width)}  ${more}`.trimEnd());
  }
  return lines;
}
