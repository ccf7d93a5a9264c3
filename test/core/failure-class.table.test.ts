import { describe, expect, it } from 'vitest';
import {
  failureClassOf,
  failureClassOfStored,
  type BuildEnding,
  type FailureClass,
} from '../../src/core/failure-class.js';
import { isNetworkError, isNetworkFailure } from '../../src/core/network-failure.js';

describe('failureClassOf', () => {
  const rows: Array<[BuildEnding, FailureClass | null]> = [
    [{ state: 'passed' }, null],
    [{ state: 'skipped' }, null],
    [{ state: 'running' }, null],
    [{ state: 'failed' }, 'user'],
    [{ state: 'failed', signal: 'SIGSEGV' }, 'user'],
    [{ state: 'failed', signal: 'SIGKILL' }, 'infrastructure'],
    [{ state: 'error', code: 'timeout' }, 'timeout'],
    [{ state: 'error', code: 'step-timeout' }, 'timeout'],
    [{ state: 'error', code: 'no-output-timeout' }, 'timeout'],
    [{ state: 'error', code: 'network' }, 'network'],
    [{ state: 'error', code: 'checkout' }, 'infrastructure'],
    [{ state: 'error', code: 'disk' }, 'infrastructure'],
    [{ state: 'error', code: 'lost' }, 'infrastructure'],
    [{ state: 'error', code: 'internal' }, 'infrastructure'],
    [{ state: 'error', code: 'workspace' }, 'infrastructure'],
    [{ state: 'error', code: 'publish' }, 'infrastructure'],
    [{ state: 'error', code: 'outputs' }, 'user'],
    [{ state: 'cancelled' }, 'cancelled'],
    [{ state: 'superseded' }, 'superseded'],
  ];
  it.each(rows)('%j → %s', (ending, expected) => {
    expect(failureClassOf(ending)).toBe(expected);
  });
});

describe('failureClassOfStored (rows from before the column)', () => {
  const rows: Array<[string, string | null, FailureClass | null]> = [
    ['passed', null, null],
    ['failed', 'step "test" exited with code 3', 'user'],
    ['failed', 'step "test" was killed by SIGKILL', 'infrastructure'],
    ['failed', 'step "test" was killed by SIGTERM', 'user'],
    ['error', 'timeout: job "build" timed out after 5m', 'timeout'],
    ['error', 'no-output-timeout: no output for 1m', 'timeout'],
    ['error', 'network: git fetch of http://x failed: Operation too slow', 'network'],
    ['error', 'lost: the server stopped while the build was running', 'infrastructure'],
    ['error', 'checkout: commit abc not found', 'infrastructure'],
    ['error', 'outputs: output "dist" matched no file', 'user'],
    ['error', null, 'infrastructure'],
    ['cancelled', 'cancelled by api', 'cancelled'],
    ['superseded', 'superseded by build #4', 'superseded'],
    ['skipped', 'identical to build #2', null],
  ];
  it.each(rows)('%s %j → %s', (state, reason, expected) => {
    expect(failureClassOfStored(state, reason)).toBe(expected);
  });
});

describe('isNetworkFailure (git/ssh/curl stderr)', () => {
  const network = [
    "fatal: unable to access 'https://git.example.com/a.git/': Could not resolve host: git.example.com",
    "fatal: unable to access 'http://127.0.0.1:1/a.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Connection refused",
    "fatal: unable to access 'http://127.0.0.1:4000/x.git/': Operation too slow. Less than 1 bytes/sec transferred the last 2 seconds",
    'fatal: early EOF',
    'fatal: the remote end hung up unexpectedly',
    'ssh: connect to host git.example.com port 22: Connection timed out',
    'ssh: Could not resolve hostname nowhere: Temporary failure in name resolution',
    'fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused',
    'error: RPC failed; curl 56 Recv failure: Connection reset by peer',
    'fatal: unable to access: Network is unreachable',
    'git fetch stalled: no output for 2s',
  ];
  const answered = [
    "fatal: repository 'http://127.0.0.1:4000/missing.git/' not found",
    "fatal: Authentication failed for 'https://git.example.com/a.git/'",
    'git@example.com: Permission denied (publickey).\nfatal: Could not read from remote repository.',
    "fatal: '/srv/git/lib.git' does not appear to be a git repository",
    'error: pathspec did not match',
    "fatal: unable to access 'https://x/': The requested URL returned error: 403",
    '',
  ];
  it.each(network)('network: %s', (s) => expect(isNetworkFailure(s)).toBe(true));
  it.each(answered)('not network: %s', (s) => expect(isNetworkFailure(s)).toBe(false));
});

describe('isNetworkError (Node errors)', () => {
  it.each([
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:22'), { code: 'ECONNREFUSED' }), true],
    [Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }), true],
    [
      Object.assign(new Error('Timed out while waiting for handshake'), {
        level: 'client-timeout',
      }),
      true,
    ],
    [
      Object.assign(new Error('All configured authentication methods failed'), {
        level: 'client-authentication',
      }),
      false,
    ],
    [Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }), false],
    ['a string', false],
    [null, false],
  ])('%s → %s', (err, expected) => expect(isNetworkError(err)).toBe(expected));
});
