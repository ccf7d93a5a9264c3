/** What `nightless migrate-store` loads on demand (client commands skip the store's imports). */
export { migrateStore, TargetNotEmptyError } from './migrate-store.js';
export { parseDatabaseUrl, redactDatabaseUrl } from './open-store.js';
