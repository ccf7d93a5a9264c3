import { DEFAULT_FAST_BURN, DEFAULT_SLOW_BURN, type BurnAlert } from '../core/slo/slo-math.js';
import type { SloDef } from '../core/slo/slo-set.js';
import { MAX_AGE_MS, parseDuration } from './durations.js';
import type { PipelineFile } from './schema.js';

const DEFAULT_WINDOW = '28d';

/** A duration as the schema types it (its union also admits `false`, for `off`). */
type Dur = string | number | false;

/** `slos:` → definitions: objectives as shares, durations in ms, alert windows defaulted. */
export function resolveSlos(file: PipelineFile['slos']): SloDef[] {
  return Object.entries(file ?? {}).map(([name, s]) => ({
    name,
    indicator: s.indicator,
    objective: s.objective / 100,
    windowMs: ms(s.window ?? DEFAULT_WINDOW),
    thresholdMs: s.threshold === undefined ? null : ms(s.threshold),
    fast: pair(s.fast_burn, DEFAULT_FAST_BURN),
    slow: pair(s.slow_burn, DEFAULT_SLOW_BURN),
  }));
}

function pair(written: readonly [Dur, Dur] | undefined, dflt: BurnAlert): BurnAlert {
  if (written === undefined) return dflt;
  return { longMs: ms(written[0]), shortMs: ms(written[1]), threshold: dflt.threshold };
}

/** The schema checked the syntax already; a number is seconds. */
function ms(v: Dur): number {
  if (v === false) return 0;
  const r = parseDuration(v, MAX_AGE_MS);
  return r.ok ? r.ms : 0;
}
