import { ErrorBody, notFoundErrors } from './error.js';
import { TriggerResponse } from './responses.js';

/**
 * What a trigger and a rebuild answer: the queued build (null when nothing was built, e.g. the
 * same fingerprint) and the decisions that say why, plus the errors both routes can give.
 */
export const triggerResponses = {
  202: TriggerResponse,
  ...notFoundErrors,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
} as const;
