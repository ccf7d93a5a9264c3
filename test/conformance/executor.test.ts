import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult, RunSpec } from '../../src/executor/port.js';
import { executorAdapters, type OpenedExecutor } from './executor-adapters.js';

/**
 * The Executor port's contract (src/executor/port.ts) on every executor: `run` resolves, never
 * rejects, with the outcome; an abort ends the run `cancelled` within a second; infrastructure
 * faults are `error` with a stable code, never `failed`; outputs are digests of their content.
 */

/** An observer that records log growth. Only `logAdvanced` is asserted: step calls are optional. */
function recording() {
  const advances: number[] = [];
  return {
    advances,
    stepStarted: () => undefined,
    stepFinished: () => undefined,
    logAdvanced: (bytes: number) => advances.push(bytes),
  };
}

for (const adapter of executorAdapters) {
  describe(`executor port conformance [${adapter.name}]`, () => {
    let opened: OpenedExecutor;
    beforeEach(async () => {
      opened = await adapter.open();
    });
    afterEach(async () => {
      await opened.dispose();
    });

    const run = (spec: RunSpec, signal = new AbortController().signal) => {
      const observer = recording();
      return { observer, result: opened.executor.run(spec, observer, signal) };
    };

    it('resolves `passed` with no outputs for a job that declares none', async () => {
      const { result, observer } = run(opened.spec('pass'));
      const r = await result;
      expect(r).toMatchObject({ state: 'passed', outputs: [], coverage: null });
      expect(Array.isArray(r.warnings)).toBe(true);
      if (adapter.writesLogs) {
        expect(observer.advances.length).toBeGreaterThan(0);
        expect(observer.advances).toEqual([...observer.advances].sort((a, b) => a - b));
      }
    });

    it('resolves `failed` naming the step and its exit code when a step says no', async () => {
      const r = await run(opened.spec('fail')).result;
      expect(r).toMatchObject({ state: 'failed', step: 'test', exitCode: 3 });
      expect(r.state === 'failed' && r.reason).toMatch(/test/);
    });

    it('resolves `error` with a stable code, never `failed`, when the infrastructure fails', async () => {
      const r = await run(opened.spec('broken')).result;
      expect(r.state).toBe('error');
      expect(r.state === 'error' && r.code).toBe('checkout');
      expect(r.state === 'error' && r.reason.length).toBeGreaterThan(0);
    });

    it('ends a run past its timeout as `error: timeout`', async () => {
      const started = Date.now();
      const r = await run(opened.spec('timeout')).result;
      expect(r).toMatchObject({ state: 'error', code: 'timeout' });
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('resolves `cancelled` within a second of the abort', async () => {
      const spec = opened.spec('hang');
      const abort = new AbortController();
      const { result, observer } = run(spec, abort.signal);
      await opened.untilRunning(spec, () => observer.advances.at(-1) ?? 0);
      const at = Date.now();
      abort.abort();
      const r: RunResult = await result;
      expect(r.state).toBe('cancelled');
      expect(Date.now() - at).toBeLessThan(1000);
    });

    it('resolves `cancelled` without running when the signal is already aborted', async () => {
      const abort = new AbortController();
      abort.abort();
      const started = Date.now();
      expect((await run(opened.spec('hang'), abort.signal).result).state).toBe('cancelled');
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('collects declared outputs as content digests: the same bytes give the same digest', async () => {
      const a = await run(opened.spec('outputs')).result;
      const b = await run(opened.spec('outputs')).result;
      expect(a.state).toBe('passed');
      expect(a.outputs.map((o) => o.name)).toEqual(['dist']);
      expect(a.outputs[0]!.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(b.outputs[0]!.digest).toBe(a.outputs[0]!.digest);
      for (const f of a.outputs[0]!.files) {
        expect(f.path.startsWith('/') || f.path.includes('..')).toBe(false);
        expect(f.digest).toMatch(/^[0-9a-f]{64}$/);
      }
    });

    // Optional methods: checked where the adapter has them, skipped (and reported so) elsewhere.
    it('reaps nothing, and says so, for a build that left nothing behind', async (ctx) => {
      const ex = opened.executor;
      if (!ex.reapLost) return ctx.skip('no reapLost on this executor');
      expect(await ex.reapLost(opened.spec('pass').buildId)).toBe(0);
    });

    it('appends system lines to a build log, resolving with its growing size', async (ctx) => {
      const ex = opened.executor;
      if (!ex.appendSystemLine) return ctx.skip('no appendSystemLine on this executor');
      const { buildId } = opened.spec('pass');
      const first = await ex.appendSystemLine(buildId, 'lost: the server stopped');
      const second = await ex.appendSystemLine(buildId, 'token s3cret', ['s3cret']);
      expect(first).toBeGreaterThan(0);
      expect(second).toBeGreaterThan(first!);
    });

    it('runs several builds at once, each to its own outcome', async () => {
      const hang = opened.spec('hang');
      const abort = new AbortController();
      const held = run(hang, abort.signal);
      const [p, f] = await Promise.all([
        run(opened.spec('pass')).result,
        run(opened.spec('fail')).result,
      ]);
      expect([p.state, f.state]).toEqual(['passed', 'failed']);
      abort.abort();
      expect((await held.result).state).toBe('cancelled');
    });
  });
}
