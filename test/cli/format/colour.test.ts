import { describe, expect, it } from 'vitest';
import {
  colourEnabled,
  createColours,
  stripAnsi,
  visibleLength,
} from '../../../src/cli/format/colour.js';

describe('colourEnabled', () => {
  it('is off when the stream is not a TTY', () => {
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({}, {})).toBe(false);
  });

  it('is on for a TTY unless NO_COLOR is set to something', () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
  });
});

describe('createColours', () => {
  it('leaves text alone when disabled', () => {
    const c = createColours(false);
    expect(c.red('x')).toBe('x');
    expect(c.state('passed')).toBe('passed');
    expect(c.dim('x')).toBe('x');
  });

  it('colours states: passed green, failed red, error yellow', () => {
    const c = createColours(true);
    expect(c.state('passed')).toBe('\x1b[32mpassed\x1b[39m');
    expect(c.state('failed')).toBe('\x1b[31mfailed\x1b[39m');
    expect(c.state('error')).toBe('\x1b[33merror\x1b[39m');
    expect(c.state('running', '#4')).toBe('\x1b[36m#4\x1b[39m');
  });

  it('stripAnsi and visibleLength ignore the escape codes', () => {
    const c = createColours(true);
    const text = `${c.bold('a')}${c.dim('bc')}`;
    expect(stripAnsi(text)).toBe('abc');
    expect(visibleLength(text)).toBe(3);
  });
});
