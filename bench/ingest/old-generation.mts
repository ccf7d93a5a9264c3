/**
 * How fast a run fills V8's old generation, which sets how often the old-generation collections
 * (mark-compact: the longest pauses of a run) come: what scavenges promote there plus what is
 * allocated there directly (hidden classes and their descriptor arrays, large objects), from
 * `v8.GCProfiler`'s per-collection heap-space figures.
 *
 * Why it is measured (2026-12-04, `--trace-gc-object-stats`, `--log-maps`): in V8 11 (Node 20)
 * a property written after a spread (`{ ...a, b: 1 }`) can get a hidden class of its own at
 * every call, allocated in the old generation; two such literals per event were most of what
 * the old-generation collections freed, and the latency figures did not show it.
 */
import { GCProfiler, getHeapSpaceStatistics } from 'node:v8';

const OLD = new Set(['old_space', 'large_object_space']);

interface SpaceStats {
  readonly spaceName: string;
  readonly spaceUsedSize: number;
}

const oldUsed = (spaces: readonly SpaceStats[]): number =>
  spaces.reduce((sum, s) => (OLD.has(s.spaceName) ? sum + s.spaceUsedSize : sum), 0);

const oldUsedNow = (): number =>
  oldUsed(
    getHeapSpaceStatistics().map((s) => ({
      spaceName: s.space_name,
      spaceUsedSize: s.space_used_size,
    })),
  );

export interface OldGeneration {
  /** Bytes that entered the old generation during the window (not what stayed there). */
  readonly grownBytes: number;
  /** Mark-compact pauses in the window, ms each. */
  readonly majorMs: readonly number[];
}

/** Watches the old generation from now until `stop`. */
export function watchOldGeneration(): { stop(): OldGeneration } {
  const profiler = new GCProfiler();
  const start = oldUsedNow();
  profiler.start();
  return {
    stop: () => {
      const { statistics } = profiler.stop() as unknown as {
        statistics: Array<{
          gcType: string;
          cost: number;
          beforeGC: { heapSpaceStatistics: SpaceStats[] };
          afterGC: { heapSpaceStatistics: SpaceStats[] };
        }>;
      };
      let grown = 0;
      let last = start;
      const majorMs: number[] = [];
      for (const gc of statistics) {
        const before = oldUsed(gc.beforeGC.heapSpaceStatistics);
        const after = oldUsed(gc.afterGC.heapSpaceStatistics);
        // Allocated in the old generation since the previous collection, then what this one
        // promoted (a mark-compact promotes too, but its figure is net of what it freed).
        grown += Math.max(0, before - last);
        if (gc.gcType === 'Scavenge') grown += Math.max(0, after - before);
        if (gc.gcType === 'MarkSweepCompact') majorMs.push(gc.cost / 1000);
        last = after;
      }
      return { grownBytes: grown + Math.max(0, oldUsedNow() - last), majorMs };
    },
  };
}
