export { decide } from './decide.js';
export { ancestryNote } from './decide-source.js';
export { RULES } from './types.js';
export type {
  BuildRef,
  Decision,
  DecisionKind,
  Rule,
  SchedulerSnapshot,
  SourceHead,
} from './types.js';
