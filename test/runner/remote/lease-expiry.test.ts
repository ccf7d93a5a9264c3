import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Build } from '../../../src/core/build.js';
import { RemoteRunner, type RemoteRunnerDeps } from '../../../src/runner/remote/remote-runner.js';
import type { AgentsPort } from '../../../src/store/ports.js';
import { StoreUnavailableError } from '../../../src/store/ports/unavailable.js';

/**
 * The remote runner's lease sweep when the database goes away: agents' heartbeats are refused
 * (503) for as long as it is down, so when it is back every running build gets one more lease
 * instead of all ending `error: lost` at once; an agent that really stopped is still found, a
 * lease later. Fake timers: `now` is the clock the sweep's interval runs on.
 */
const LEASE = 1000;

/** One running build leased to `agent-0`, in memory; `down` makes every call fail like PG. */
function fakeAgents() {
  const state = {
    down: false,
    leaseUntil: 0,
    lost: false,
    extendedTo: [] as number[],
    /** How long a sweep's statement takes (a slow, loaded database). */
    slowMs: 0,
    /** Whether the build holds a lease at all (false: nothing is leased anywhere). */
    held: true,
    sweeps: 0,
  };
  const gate = () => {
    if (state.down) throw new StoreUnavailableError('connect ECONNREFUSED 127.0.0.1:5432');
  };
  const port = {
    extendAllLeases: (until: number) => {
      gate();
      state.extendedTo.push(until);
      if (state.held && !state.lost && state.leaseUntil < until) state.leaseUntil = until;
      return Promise.resolve();
    },
    expireLeases: async (now: number) => {
      gate();
      state.sweeps++;
      if (state.slowMs > 0) await new Promise((r) => setTimeout(r, state.slowMs));
      if (!state.held || state.lost || state.leaseUntil >= now) return { lost: [], requeued: [] };
      state.lost = true;
      const build = { id: 1, job: 'j', state: 'error', reason: 'lost: agent agent-0' } as Build;
      return { lost: [build], requeued: [] };
    },
    recordAgent: () => Promise.resolve(),
    renewLeases: (_agent: string, running: readonly number[], until: number) => {
      gate();
      if (!running.includes(1)) return Promise.resolve([]);
      state.held = true;
      state.leaseUntil = until;
      return Promise.resolve([1]);
    },
    listAgents: () => {
      gate();
      return Promise.resolve([{ name: 'agent-0', labels: [], slots: 1, version: '1' }]);
    },
    leasedBuilds: () => {
      gate();
      return Promise.resolve(
        !state.held || state.lost
          ? []
          : [{ id: 1, job: 'j', worker: 'agent-0', leaseExpiresAt: state.leaseUntil }],
      );
    },
  };
  return { state, port: port as unknown as AgentsPort };
}

function runner(agents: AgentsPort, finished: Build[]): RemoteRunner {
  return new RemoteRunner(deps(agents, finished));
}

function deps(agents: AgentsPort, finished: Build[]): RemoteRunnerDeps {
  return {
    agents,
    queue: {} as never,
    read: {} as never,
    pipeline: () => ({}) as never,
    now: () => Date.now(),
    logger: pino({ level: 'silent' }),
    secret: () => undefined,
    logFile: (id) => `/nonexistent/${id}.log`,
    appendSystemLine: () => Promise.resolve(null),
    buildUrl: () => '',
    hasBlob: () => Promise.resolve(false),
    maxAttempts: 1,
    leaseMs: LEASE,
    expiryCheckMs: 100,
    onStarted: () => undefined,
    onLog: () => undefined,
    onFinished: (b) => finished.push(b),
  };
}

describe('remote runner: leases across a database outage', () => {
  let r: RemoteRunner | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(async () => {
    await r?.stop('abandon');
    vi.useRealTimers();
  });

  it('ends a build whose agent stopped heartbeating (no outage): lost after its lease', async () => {
    const { state, port } = fakeAgents();
    const finished: Build[] = [];
    r = runner(port, finished);
    await vi.advanceTimersByTimeAsync(0);
    // Leased until start + LEASE (the grace at start); nobody renews it.
    expect(state.leaseUntil).toBe(1_000_000 + LEASE);
    await vi.advanceTimersByTimeAsync(LEASE + 200);
    expect(state.lost).toBe(true);
    expect(finished.map((b) => b.id)).toEqual([1]);
  });

  it('gives every lease one more period when the database is back, then still finds a dead agent', async () => {
    const { state, port } = fakeAgents();
    const finished: Build[] = [];
    r = runner(port, finished);
    await vi.advanceTimersByTimeAsync(0);
    const leasedUntil = state.leaseUntil;
    // The database goes away for 2.5 s: longer than the lease, no heartbeat gets through.
    state.down = true;
    await vi.advanceTimersByTimeAsync(2500);
    const back = Date.now();
    state.down = false;
    await vi.advanceTimersByTimeAsync(150);
    expect(state.lost).toBe(false);
    expect(finished).toEqual([]);
    expect(state.leaseUntil).toBeGreaterThanOrEqual(back + LEASE);
    expect(state.leaseUntil).toBeGreaterThan(leasedUntil);
    // Extended once for the outage, not on every sweep afterwards.
    const extensions = state.extendedTo.length;
    await vi.advanceTimersByTimeAsync(500);
    expect(state.extendedTo).toHaveLength(extensions);
    // The agent never heartbeats again: it is lost one lease after the database came back.
    await vi.advanceTimersByTimeAsync(LEASE);
    expect(state.lost).toBe(true);
    expect(finished.map((b) => b.id)).toEqual([1]);
  });

  it('does not take a slow sweep for an outage: a dead agent is still lost', async () => {
    const { state, port } = fakeAgents();
    const finished: Build[] = [];
    state.slowMs = 400; // four sweep intervals per sweep
    r = runner(port, finished);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(LEASE + 1000);
    expect(state.extendedTo).toEqual([1_000_000 + LEASE]); // only the grace at start
    expect(state.lost).toBe(true);
    expect(finished.map((b) => b.id)).toEqual([1]);
  });
});

describe('remote runner: how often it sweeps', () => {
  let r: RemoteRunner | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(async () => {
    await r?.stop('abandon');
    vi.useRealTimers();
  });

  it('sweeps every third of the lease while nothing is leased, every check period once a build is', async () => {
    const { state, port } = fakeAgents();
    state.held = false;
    r = runner(port, []);
    await vi.advanceTimersByTimeAsync(100); // the first sweep finds no lease
    const before = state.sweeps;
    await vi.advanceTimersByTimeAsync(3000);
    // 3 s at one sweep per 333 ms (a third of the 1 s lease), not 30 at one per 100 ms.
    expect(state.sweeps - before).toBeGreaterThanOrEqual(8);
    expect(state.sweeps - before).toBeLessThanOrEqual(10);
    // Another replica leases a build: the next idle sweep sees it, and from then on every 100 ms.
    state.held = true;
    state.leaseUntil = Date.now() + 10 * LEASE; // renewed by its agent all along
    await vi.advanceTimersByTimeAsync(400);
    const seen = state.sweeps;
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.sweeps - seen).toBeGreaterThanOrEqual(9);
  });

  it('finds a lease taken elsewhere and left to expire no later than a sweep period after its end', async () => {
    const { state, port } = fakeAgents();
    const finished: Build[] = [];
    state.held = false;
    r = runner(port, finished);
    await vi.advanceTimersByTimeAsync(150); // idle cadence from here on
    // Taken right after an idle sweep, and never renewed (its holder died at once).
    state.held = true;
    const endsAt = Date.now() + LEASE;
    state.leaseUntil = endsAt;
    await vi.advanceTimersByTimeAsync(LEASE);
    expect(finished).toEqual([]);
    await vi.advanceTimersByTimeAsync(150);
    expect(state.lost).toBe(true);
    expect(finished.map((b) => b.id)).toEqual([1]);
  });

  it('sweeps at the busy period again as soon as an agent here renews a lease', async () => {
    const { state, port } = fakeAgents();
    state.held = false;
    r = runner(port, []);
    await vi.advanceTimersByTimeAsync(150);
    const before = state.sweeps;
    const agent = { name: 'agent-0', labels: [], slots: 1, version: '1', running: [1] };
    await r.heartbeat(agent);
    await vi.advanceTimersByTimeAsync(100);
    expect(state.sweeps).toBe(before + 1);
  });

  it('defaults to one sweep in 10 s while nothing is leased (30 s leases)', async () => {
    const { state, port } = fakeAgents();
    state.held = false;
    const { leaseMs: _l, expiryCheckMs: _e, ...rest } = deps(port, []);
    r = new RemoteRunner(rest);
    await vi.advanceTimersByTimeAsync(1000);
    const before = state.sweeps;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(state.sweeps - before).toBe(6);
  });
});
