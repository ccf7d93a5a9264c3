/**
 * Deep freeze for the resolved pipeline. Maps are frozen too, but `Object.freeze` does not stop
 * `Map.prototype.set`; the type (`ReadonlyMap`) is what prevents mutation there, and we also
 * replace the mutators so a cast cannot slip past at runtime.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (value instanceof Map) {
    for (const [k, v] of value as Map<unknown, unknown>) {
      deepFreeze(k);
      deepFreeze(v);
    }
    const refuse = (): never => {
      throw new TypeError('the pipeline is frozen');
    };
    Object.defineProperties(value, {
      set: { value: refuse },
      delete: { value: refuse },
      clear: { value: refuse },
    });
  } else {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}
