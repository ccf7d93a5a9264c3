import { describe, expect, it } from 'vitest';
import {
  STDERR_MAX_CHARS,
  STDERR_MAX_LINES,
  stderrSummary,
} from '../../src/core/command-stderr.js';

describe('stderrSummary', () => {
  it("keeps git's fatal lines, not the advice that follows them", () => {
    const stderr = [
      "fatal: '/x' does not appear to be a git repository",
      'fatal: Could not read from remote repository.',
      '',
      'Please make sure you have the correct access rights',
      'and the repository exists.',
      '',
    ].join('\n');
    expect(stderrSummary(stderr)).toBe(
      "fatal: '/x' does not appear to be a git repository; fatal: Could not read from remote repository.",
    );
  });

  it('keeps ssh and remote lines in order, drops hints and repeated lines', () => {
    const stderr =
      'hint: try this\nssh: connect to host example.com port 22: Connection refused\r\n' +
      'fatal: Could not read from remote repository.\nfatal: Could not read from remote repository.\n';
    expect(stderrSummary(stderr)).toBe(
      'ssh: connect to host example.com port 22: Connection refused; fatal: Could not read from remote repository.',
    );
  });

  it('falls back to the last lines when none is flagged', () => {
    const stderr = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n');
    expect(stderrSummary(stderr)).toBe('line 4; line 5; line 6; line 7; line 8; line 9');
  });

  it('is bounded in lines and characters', () => {
    const many = Array.from({ length: 50 }, (_, i) => `error: problem ${i}`).join('\n');
    const s = stderrSummary(many);
    expect(s.split('; ')).toHaveLength(STDERR_MAX_LINES);
    expect(s).toMatch(/\(\+44 lines\)$/);
    const long = `fatal: ${'x'.repeat(5000)}`;
    expect(stderrSummary(long)).toHaveLength(STDERR_MAX_CHARS);
  });

  it('redacts URL credentials and secret values', () => {
    const stderr =
      "fatal: unable to access 'https://ci:hunter2-token@git.example.com/app.git/': The requested URL returned error: 403\n" +
      'remote: token sekrit-value rejected';
    const s = stderrSummary(stderr, ['sekrit-value']);
    expect(s).not.toContain('hunter2-token');
    expect(s).not.toContain('sekrit-value');
    expect(s).toContain("'https://git.example.com/app.git/'");
  });
});
