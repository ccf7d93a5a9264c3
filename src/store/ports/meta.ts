/** Key/value settings (API token hash, pipeline name, installation id). */
export interface MetaPort {
  /** `null` when the key was never set. */
  get(key: string): Promise<string | null>;
  /** Inserts or replaces; one statement. */
  set(key: string, value: string): Promise<void>;
}
