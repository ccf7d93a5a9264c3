export { decide } from './decide.js';
export { RULES } from './types.js';
export type {
  BuildRef,
  Decision,
  DecisionKind,
  Rule,
  SchedulerSnapshot,
  SourceHead,
} from './types.js';
