export { decide, short } from './decide.js';
export type {
  BuildRef,
  Decision,
  DecisionKind,
  Rule,
  SchedulerSnapshot,
  SourceHead,
} from './types.js';
