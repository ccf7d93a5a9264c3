/**
 * The summary at the top of bench/RESULTS.md: for each bench's latest block, when it ran, on how
 * fast a VM, and how many of its targets it met; then every target missed. Rewritten from the
 * blocks themselves each time a bench writes its block, so it cannot drift from them.
 */

/** One figure with a target, as a block's table states it. */
interface TargetRow {
  readonly figure: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

interface BlockSummary {
  readonly name: string;
  readonly heading: string;
  readonly ran: string;
  /** How long bash took for 100 `/bin/true` as the block was written, when it says. */
  readonly forks: string;
  readonly rows: readonly TargetRow[];
}

const START = '<!-- summary:start -->';
const END = '<!-- summary:end -->';

/** `text` (RESULTS.md) with its summary block rewritten from the latest blocks in it. */
export function withSummary(text: string): string {
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  const block = `${START}\n${summaryOf(blocks(text))}\n${END}`;
  if (from !== -1 && to > from)
    return `${text.slice(0, from)}${block}${text.slice(to + END.length)}`;
  // First time: after the machine block, before the first section.
  const at = text.indexOf('\n## ');
  if (at === -1) return `${text.trimEnd()}\n\n${block}\n`;
  return `${text.slice(0, at)}\n${block}\n${text.slice(at)}`;
}

function blocks(text: string): BlockSummary[] {
  const out: BlockSummary[] = [];
  const marker = /<!-- ([\w-]+):latest:start -->\n([\s\S]*?)<!-- \1:latest:end -->/g;
  for (const m of text.matchAll(marker)) {
    const name = m[1] ?? '';
    const body = m[2] ?? '';
    const before = text.slice(0, m.index);
    const heading = before.slice(before.lastIndexOf('\n## ') + 4).split('\n')[0] ?? name;
    const ran = /^Latest run: (\d{4}-\d\d-\d\dT\d\d:\d\d)/m.exec(body)?.[1]?.replace('T', ' ');
    const forks = /100 `\/bin\/true` from bash in (\d+ ms)/.exec(body)?.[1];
    out.push({
      name,
      heading,
      ran: ran === undefined ? '—' : `${ran} UTC`,
      forks: forks ?? '—',
      rows: targetRows(body),
    });
  }
  return out;
}

const cells = (line: string) =>
  line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim());

/**
 * The rows with a target of every table in `body`. Tables name their columns differently (`met`
 * or `Met`, or an unnamed last column saying `met` / `not met`); a row whose target is `—` has
 * none.
 */
function targetRows(body: string): TargetRow[] {
  const rows: TargetRow[] = [];
  const lines = body.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]?.startsWith('|') || !/^\|[-| ]+\|$/.test(lines[i + 1] ?? '')) continue;
    const header = cells(lines[i] ?? '').map((c) => c.toLowerCase());
    const target = header.findIndex((c) => c === 'target');
    const measured = header.findIndex((c) => c.startsWith('measured'));
    const figure = header.findIndex((c) => c === 'figure');
    let met = header.findIndex((c) => c === 'met');
    if (met === -1 && header.at(-1) === '') met = header.length - 1;
    if (target === -1 || measured === -1 || figure === -1 || met === -1) continue;
    for (let j = i + 2; j < lines.length && lines[j]?.startsWith('|'); j++) {
      const row = cells(lines[j] ?? '');
      const t = row[target] ?? '';
      if (t === '' || t === '—') continue;
      const verdict = (row[met] ?? '').replace(/\*/g, '').toLowerCase();
      // The first column of a table whose figures are labelled, as (a), in a column of their own.
      const label = figure > 0 && header[0] === '' ? `${row[0]} ` : '';
      rows.push({
        figure: `${label}${row[figure] ?? ''}`,
        target: t,
        measured: row[measured] ?? '',
        met: verdict === 'yes' || verdict === 'met',
      });
    }
  }
  return rows;
}

function summaryOf(all: readonly BlockSummary[]): string {
  const missed = all.flatMap((b) =>
    b.rows.filter((r) => !r.met).map((r) => ({ ...r, heading: b.heading })),
  );
  const met = all.reduce((n, b) => n + b.rows.filter((r) => r.met).length, 0);
  return [
    `Every figure with a target in the latest blocks below: **${met} of ${met + missed.length} met**.`,
    'Written from those blocks whenever a bench writes its own; the notes between blocks are',
    'hand-written, older, and say which VM they were measured on (VMs here have taken 72–420 ms',
    'for 100 `/bin/true`, and the latency floors are made of process starts).',
    '',
    '| section | block | latest run | 100 `/bin/true` from bash | targets | met |',
    '|---|---|---|---|---|---|',
    ...all.map((b) => {
      const ok = b.rows.filter((r) => r.met).length;
      const met = b.rows.length === 0 ? '—' : ok === b.rows.length ? 'all' : `**${ok}**`;
      return `| ${b.heading} | \`${b.name}\` | ${b.ran} | ${b.forks} | ${b.rows.length} | ${met} |`;
    }),
    ...(missed.length === 0
      ? []
      : [
          '',
          'Not met:',
          '',
          ...missed.map(
            (r) => `- ${r.heading}: ${r.figure} — target ${r.target}, measured ${r.measured}`,
          ),
        ]),
  ].join('\n');
}
