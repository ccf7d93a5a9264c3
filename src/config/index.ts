/** The pipeline file: `nightless.yaml` → a resolved, frozen `Pipeline`. */
export { ConfigError, formatProblem } from './errors.js';
export type { ConfigProblem } from './errors.js';
export { loadPipelineFile } from './load.js';
export type { LoadOptions } from './load.js';
export { parsePipeline } from './parse.js';
export type { ParseOptions } from './parse.js';
export { formatSummary, summarizePipeline } from './summary.js';
export type { PipelineSummary } from './summary.js';
export { parseDuration, formatDuration } from './durations.js';
