#!/usr/bin/env node
/**
 * Entry point of the `nightless` command (compiled to dist/cli/main.js, started by
 * bin/nightless.js). Sets the exit code instead of calling `process.exit` so piped output is
 * flushed and long-running commands (`serve`) keep running.
 */
import { runCli } from './run.js';

// `nightless logs 42 | head`: a closed pipe is the reader being done, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const code = await runCli(process.argv);
if (code !== null) process.exitCode = code;
