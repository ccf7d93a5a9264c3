import { InvalidArgumentError, type Command } from 'commander';
import { MAX_AGE_MS, parseDuration } from '../config/durations.js';
import { parseSize, SIZE_HINT } from '../config/sizes.js';
import type { StartOptions } from '../app/nightless-options.js';

/** The flags of {@link addWorkspaceFlags}, as commander parses them. */
export interface WorkspaceFlags {
  keepFailedWorkspaces?: number;
  keepWarmWorkspaces?: number;
  workspacesMaxSize?: number;
}

/**
 * What a machine that runs builds (`serve`, `agent`) keeps in its workspaces directory. Its own
 * disk, so flags of the process rather than keys of the pipeline file.
 */
export function addWorkspaceFlags(command: Command): Command {
  return command
    .option(
      '--keep-failed-workspaces <duration>',
      "how long a failed build's workspace is kept for inspection (default 24h)",
      age('--keep-failed-workspaces'),
    )
    .option(
      '--keep-warm-workspaces <duration>',
      "how long a job's warm tree waits for the job's next build before it is removed (default 7d)",
      age('--keep-warm-workspaces'),
    )
    .option(
      '--workspaces-max-size <size>',
      'cap on kept workspaces and warm trees together, the oldest removed first (e.g. 20GB; default none)',
      size('--workspaces-max-size'),
    );
}

/** The executor's workspace options the flags give (absent ones keep their defaults). */
export function workspaceOptions(flags: WorkspaceFlags): NonNullable<StartOptions['workspaces']> {
  return {
    ...(flags.keepFailedWorkspaces === undefined
      ? {}
      : { keepFailedMs: flags.keepFailedWorkspaces }),
    ...(flags.keepWarmWorkspaces === undefined ? {} : { keepWarmMs: flags.keepWarmWorkspaces }),
    ...(flags.workspacesMaxSize === undefined ? {} : { maxBytes: flags.workspacesMaxSize }),
  };
}

// Compared with directories' modification times, never given to a timer: ages, not timeouts.
function age(flag: string) {
  return (text: string): number => {
    const d = parseDuration(text, MAX_AGE_MS);
    if (!d.ok) throw new InvalidArgumentError(`${flag}: ${d.reason} (got ${JSON.stringify(text)})`);
    return d.ms;
  };
}

function size(flag: string) {
  return (text: string): number => {
    const bytes = parseSize(text);
    if (bytes === null || bytes === 0)
      throw new InvalidArgumentError(
        `${flag}: ${SIZE_HINT}, more than 0 (got ${JSON.stringify(text)})`,
      );
    return bytes;
  };
}
