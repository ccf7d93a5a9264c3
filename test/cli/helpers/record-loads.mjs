// `node --import ./record-loads.mjs …`: appends the URL of every module the process loads to the
// file named by $RECORD_LOADS_TO, so a test can see what a command's cold start pays for.
import { register } from 'node:module';

register('./record-loads-hooks.mjs', import.meta.url);
