import { describe, expect, it } from 'vitest';
import { messageReader } from '../../../src/ingest/amqp/message-version.js';

const read = messageReader({
  match: { tag: 'f42-build', 'build.owner.name': 'releng', build_id: 42 },
  versionTemplate: '{version}-{release}',
});
const msg = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const good = {
  tag: 'f42-build',
  build_id: '42',
  build: { owner: { name: 'releng' } },
  version: '2.41',
  release: '3.fc42',
};

describe('messageReader', () => {
  it('renders the version from dotted paths when every match holds', () => {
    expect(read(msg(good))).toEqual({ kind: 'version', version: '2.41-3.fc42' });
  });

  it.each([
    ['another tag', { ...good, tag: 'f41-build' }],
    ['a missing match key', { ...good, build: {} }],
    ['an object where a value is expected', { ...good, tag: { name: 'f42-build' } }],
  ])('is not for us with %s', (_n, body) => {
    expect(read(msg(body))).toEqual({ kind: 'not-for-us' });
  });

  it.each([
    ['non-JSON', 'not json {', 'body is not JSON'],
    ['a JSON array', '[1,2]', 'body is not a JSON object'],
    [
      'a missing placeholder',
      { ...good, release: undefined },
      'no value for {release} in the message',
    ],
    [
      'an empty placeholder value',
      { ...good, version: '' },
      'no value for {version} in the message',
    ],
  ])('is malformed with %s', (_n, body, reason) => {
    expect(read(msg(body))).toEqual({ kind: 'malformed', reason });
  });

  it('keeps literal text and braces of the template', () => {
    const r = messageReader({ match: {}, versionTemplate: 'v{{{a.b}}}/{c}' });
    expect(r(msg({ a: { b: 1 }, c: true }))).toEqual({ kind: 'version', version: 'v{1}/true' });
  });
});
