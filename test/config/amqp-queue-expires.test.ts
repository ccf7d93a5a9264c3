import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, parsePipeline } from '../../src/config/index.js';

/** `queue_expires` of an amqp source (issue 11 point 14): the queue's RabbitMQ `x-expires`. */
const text = (expires: string | null) =>
  [
    'sources:',
    '  glibc:',
    '    amqp:',
    '      url: amqp://127.0.0.1',
    '      exchange: koji',
    '      version: "{version}"',
    ...(expires === null ? [] : [`      queue_expires: ${expires}`]),
    'jobs:',
    '  build:',
    '    inputs: [glibc]',
    '    steps: [make]',
    '',
  ].join('\n');

const expiresOf = (expires: string | null): number | null => {
  const s = parsePipeline(text(expires), 'nightless.yaml', { env: {} }).sources.get('glibc');
  if (s?.kind !== 'amqp') throw new Error('not an amqp source');
  return s.queueExpiresMs;
};

describe('amqp queue_expires', () => {
  it('defaults to 7 days, takes durations, and off means never', () => {
    expect(expiresOf(null)).toBe(7 * 24 * 3_600_000);
    expect(expiresOf('2d')).toBe(2 * 24 * 3_600_000);
    expect(expiresOf('90s')).toBe(90_000);
    expect(expiresOf('off')).toBeNull();
  });

  it('refuses less than a second with file:line:column', () => {
    let error: unknown = null;
    try {
      parsePipeline(text('500ms'), 'nightless.yaml', { env: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const [problem] = (error as ConfigError).problems;
    expect(formatProblem(problem!)).toMatch(
      /^nightless\.yaml:7:22: .*queue_expires.*invalid queue_expires "?500ms"?: use at least 1s, or off/,
    );
  });
});
