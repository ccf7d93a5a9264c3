import { describe, expect, it } from 'vitest';
import { displayUrl, redactText } from '../../src/core/redact.js';

describe('displayUrl', () => {
  it.each([
    ['https://user:pass@host', 'https://host'],
    ['https://user:p@ss@git.example.com/x.git', 'https://git.example.com/x.git'],
    ['https://token@git.example.com/x.git?ref=main', 'https://git.example.com/x.git?ref=main'],
    ['amqp://guest:guest@rabbit:5672/vhost', 'amqp://rabbit:5672/vhost'],
    ['ci:secret@git.example.com:team/app.git', 'git.example.com:team/app.git'],
    ['git@git.example.com:team/app.git', 'git@git.example.com:team/app.git'],
    ['/srv/git/app.git', '/srv/git/app.git'],
    ['https://git.example.com/a@b', 'https://git.example.com/a@b'],
  ])('%s → %s', (url, shown) => {
    expect(displayUrl(url)).toBe(shown);
  });

  it('masks secret values anywhere', () => {
    expect(displayUrl('https://files.example.com/x?token=s3cr3t-value', ['s3cr3t-value'])).toBe(
      'https://files.example.com/x?token=***',
    );
  });
});

describe('redactText', () => {
  it('strips credentials from URLs inside messages', () => {
    expect(redactText('git ls-remote https://ci:pw@host/x.git failed: timeout')).toBe(
      'git ls-remote https://host/x.git failed: timeout',
    );
  });
});
