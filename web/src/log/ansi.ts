/** A run of text with one style, from ANSI SGR escapes (`ESC [ … m`). */
export interface Span {
  readonly text: string;
  /** CSS classes: `fg-1`…`fg-15`, `bg-…`, `bold`, `dim`, `italic`, `underline`. */
  readonly cls: string;
  /** 256-colour and true-colour codes, as inline colours. */
  readonly style: string;
}

interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

const PLAIN: Style = {
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
};
// Every escape sequence: colours become spans, everything else (cursor moves, titles) is dropped.
const ESCAPES = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

/**
 * Splits a log line into styled spans. Each line starts plain (a colour left on by one line
 * does not bleed into the next: lines are rendered out of order in the windowed view).
 * Text stays text: no HTML is ever produced from log content.
 */
export function ansiSpans(line: string): Span[] {
  if (!line.includes('\x1b')) return [{ text: line, cls: '', style: '' }];
  const spans: Span[] = [];
  let style: Style = { ...PLAIN };
  let last = 0;
  for (const m of line.matchAll(ESCAPES)) {
    if (m.index > last) spans.push(render(line.slice(last, m.index), style));
    last = m.index + m[0].length;
    if (m[2] === 'm') style = apply(style, m[1] ?? '');
  }
  if (last < line.length) spans.push(render(line.slice(last), style));
  return spans;
}

function apply(s: Style, params: string): Style {
  const codes = params === '' ? [0] : params.split(';').map((p) => Number(p) || 0);
  const next = { ...s };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] ?? 0;
    if (c === 0) Object.assign(next, PLAIN);
    else if (c === 1) next.bold = true;
    else if (c === 2) next.dim = true;
    else if (c === 3) next.italic = true;
    else if (c === 4) next.underline = true;
    else if (c === 22) next.bold = next.dim = false;
    else if (c === 23) next.italic = false;
    else if (c === 24) next.underline = false;
    else if (c >= 30 && c <= 37) next.fg = `fg-${c - 30}`;
    else if (c >= 90 && c <= 97) next.fg = `fg-${c - 90 + 8}`;
    else if (c === 39) next.fg = null;
    else if (c >= 40 && c <= 47) next.bg = `bg-${c - 40}`;
    else if (c >= 100 && c <= 107) next.bg = `bg-${c - 100 + 8}`;
    else if (c === 49) next.bg = null;
    else if (c === 38 || c === 48) {
      const key = c === 38 ? 'fg' : 'bg';
      if (codes[i + 1] === 5) {
        next[key] = `#${key}:${xterm256(codes[i + 2] ?? 0)}`;
        i += 2;
      } else if (codes[i + 1] === 2) {
        const [r, g, b] = [codes[i + 2] ?? 0, codes[i + 3] ?? 0, codes[i + 4] ?? 0];
        next[key] = `#${key}:rgb(${r},${g},${b})`;
        i += 4;
      }
    }
  }
  return next;
}

function render(text: string, s: Style): Span {
  const cls: string[] = [];
  const style: string[] = [];
  for (const [key, prop] of [
    ['fg', 'color'],
    ['bg', 'background-color'],
  ] as const) {
    const v = s[key];
    if (v === null) continue;
    if (v.startsWith('#')) style.push(`${prop}:${v.slice(v.indexOf(':') + 1)}`);
    else cls.push(v);
  }
  if (s.bold) cls.push('bold');
  if (s.dim) cls.push('dim');
  if (s.italic) cls.push('italic');
  if (s.underline) cls.push('underline');
  return { text, cls: cls.join(' '), style: style.join(';') };
}

function xterm256(n: number): string {
  if (n < 16) return `var(--ansi-${n})`;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const f = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${f(Math.floor(i / 36))},${f(Math.floor(i / 6) % 6)},${f(i % 6)})`;
}
