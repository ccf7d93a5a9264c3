import { colourEnabled, createColours, type Colours } from './format/colour.js';

/**
 * Where a command writes. Commands print through this instead of `console` so that colour and
 * TTY behaviour are decided in one place: colour only on a TTY without NO_COLOR.
 */
export interface Output {
  readonly colours: Colours;
  readonly isTTY: boolean;
  now(): number;
  /** Writes lines to stdout, each ending with a newline. */
  print(...lines: readonly string[]): void;
  /** Pretty-printed JSON on stdout (`--json`). */
  json(value: unknown): void;
  /** A note for people on stderr (progress, hints), kept out of piped stdout. */
  note(line: string): void;
  write(chunk: string | Uint8Array): void;
}

export function processOutput(): Output {
  const isTTY = process.stdout.isTTY;
  return {
    colours: createColours(colourEnabled(process.stdout, process.env)),
    isTTY,
    now: () => Date.now(),
    print: (...lines) => {
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    },
    json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (line) => process.stderr.write(`${line}\n`),
    write: (chunk) => process.stdout.write(chunk),
  };
}
