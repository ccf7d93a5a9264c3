import type { BuildState } from '../../core/build.js';

/**
 * ANSI colours for terminal output. Colour is decided once per stream: on only when the stream
 * is a TTY and `NO_COLOR` is unset or empty (https://no-color.org), so piped output and files
 * never carry escape codes.
 */
export interface Colours {
  readonly enabled: boolean;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  blue(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
  /** `text` (default: the state's name) in the state's colour. */
  state(state: BuildState, text?: string): string;
}

export function colourEnabled(
  stream: { readonly isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  const noColor = env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  return stream.isTTY === true;
}

function sgr(open: number, close: number): (text: string) => string {
  return (text) => `\x1b[${open}m${text}\x1b[${close}m`;
}

const identity = (text: string): string => text;

export function createColours(enabled: boolean): Colours {
  const paint = enabled
    ? {
        green: sgr(32, 39),
        red: sgr(31, 39),
        yellow: sgr(33, 39),
        blue: sgr(34, 39),
        cyan: sgr(36, 39),
        dim: sgr(2, 22),
        bold: sgr(1, 22),
      }
    : {
        green: identity,
        red: identity,
        yellow: identity,
        blue: identity,
        cyan: identity,
        dim: identity,
        bold: identity,
      };
  const byState: Record<BuildState, (text: string) => string> = {
    passed: paint.green,
    failed: paint.red,
    error: paint.yellow,
    running: paint.cyan,
    queued: paint.blue,
    cancelled: paint.dim,
    superseded: paint.dim,
    skipped: paint.dim,
  };
  return { enabled, ...paint, state: (state, text) => byState[state](text ?? state) };
}

const ANSI = /\x1b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Width on screen: escape codes take no columns. (Wide CJK glyphs are not accounted for.) */
export function visibleLength(text: string): number {
  return stripAnsi(text).length;
}
