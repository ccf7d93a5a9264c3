import { z } from 'zod';

/**
 * Schema builders whose failures the issue mapper (`zod-issues.ts`) turns into precise messages.
 * zod issues do not say which schema produced them, so each builder gives its failures a unique
 * message and records what the mapper needs under that message.
 */

/** Message of a strict object's unknown-key failure → the keys it allows (for suggestions). */
export const allowedKeysByMessage = new Map<string, readonly string[]>();

/** Message of a kind union's failure → the kind keys, in branch order. */
export const kindsByMessage = new Map<string, readonly string[]>();

/** An object that rejects unknown keys; the mapper suggests the closest allowed key. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const keys = Object.keys(shape);
  const message = `unknown key (allowed: ${keys.join(', ')})`;
  allowedKeysByMessage.set(message, keys);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? message : undefined),
  });
}

/**
 * Exactly one of several shapes, told apart by which kind key is present (`git:`/`http:`/
 * `amqp:`, `lcov:`/`cobertura:`…). Each branch must require its kind key.
 */
export function kinds<const T extends readonly [z.ZodType, ...z.ZodType[]]>(
  names: readonly string[],
  schemas: T,
) {
  const message = `expected exactly one of ${names.join(', ')}`;
  kindsByMessage.set(message, names);
  return z.union(schemas, { error: () => message });
}

/** Messages may contain this token; the mapper replaces it with the value as the user wrote it. */
export const VALUE = '%VALUE%';
