/** Defaults of the pipeline file, shared by the resolver and the JSON Schema's `default`s. */
export const DEFAULTS = {
  branches: ['main'],
  fallbackPoll: '10m',
  maxSize: '100MB',
  routingKey: '#',
  queueExpires: '7d',
  jobTimeout: '1h',
  noOutputTimeout: 'off',
  supersede: true,
  cancelRunning: false,
  workspace: 'warm',
  concurrency: 1,
  quietPeriod: 'off',
  sftpPort: 22,
  sftpConnectTimeout: '5s',
  webhookConnectTimeout: '3s',
  networkConnectTimeout: '5s',
  networkStallTimeout: '30s',
  retryAttempts: 2,
  retryBackoff: '30s',
  webhookTimeout: '10s',
  reportMaxAttempts: 8,
  statusContext: 'nightless',
  pipelineName: 'nightless',
} as const;

/** The largest pipeline file read at all; bigger files are refused before parsing. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;
