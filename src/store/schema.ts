import type { Generated } from 'kysely';

/**
 * Table shapes shared by every SQL backend. Times are epoch milliseconds; JSON columns hold
 * text. Booleans are 0/1 integers so SQLite and PostgreSQL read the same.
 */
export interface Database {
  meta: { key: string; value: string };
  sources: {
    name: string;
    kind: string;
    url: string | null;
    next_check_at: number | null;
    last_check_at: number | null;
    last_check_ok: number | null;
    last_error: string | null;
    poll_failures: Generated<number>;
    missed_events: Generated<number>;
    events_received: Generated<number>;
    last_event_at: number | null;
  };
  versions: {
    id: Generated<number>;
    source: string;
    version: string;
    ref: string;
    event_id: number | null;
    origin: string;
    produced_by: number | null;
    created_at: number;
  };
  heads: { source: string; ref: string; version_id: number };
  events: {
    id: Generated<number>;
    kind: string;
    source: string | null;
    version: string | null;
    ref: string | null;
    origin: string;
    delivery_id: string | null;
    /** JSON: changed paths, trigger options. */
    detail: Generated<string>;
    received_at: number;
    processed_at: number | null;
    outcome: string | null;
    /** An output event: the root of the build that produced it (`lead_time`, migration 0012). */
    trace_root: Generated<number | null>;
    /** A root event: when its whole downstream trace was done (0012). */
    trace_done_at: Generated<number | null>;
  };
  builds: {
    id: Generated<number>;
    job: string;
    state: string;
    fingerprint: string;
    definition_hash: string;
    cause: string;
    forced: Generated<number>;
    ref: string | null;
    queued_at: number;
    started_at: number | null;
    finished_at: number | null;
    failed_step: string | null;
    reason: string | null;
    related_build: number | null;
    exit_code: number | null;
    coverage_lines: number | null;
    coverage_branches: number | null;
    coverage_lines_delta: number | null;
    coverage_branches_delta: number | null;
    attempt: Generated<number>;
    worker: string | null;
    warnings: Generated<string>;
    log_bytes: Generated<number>;
    /** `core/concurrency-group.ts`: the job and its primary branch. */
    concurrency_group: Generated<string>;
    /** How many builds of the group may run at once (the job's `concurrency` when queued). */
    concurrency_limit: Generated<number>;
    /** `core/failure-class.ts`, written when the build ends (migration 0008). */
    failure_class: string | null;
    /** A queued retry is not claimed before this time: its backoff, kept in the store (0011). */
    not_before: Generated<number | null>;
    /** Until when the agent running it holds it (migration 0010); null for local slots. */
    lease_expires_at: number | null;
    /** The event whose version's downstream trace this build is in (`lead_time`, 0012). */
    trace_root: Generated<number | null>;
    /** The job's `supersede:` when queued, 1 or 0: may a newer build replace it once lost (0014). */
    supersede: Generated<number>;
  };
  /** Build agents seen by this server (`GET /api/agents`); labels are comma-separated. */
  agents: {
    name: string;
    labels: string;
    slots: number;
    version: string;
    first_seen_at: number;
    last_heartbeat_at: number;
  };
  build_inputs: {
    build_id: number;
    position: number;
    source: string;
    version: string;
    ref: string | null;
    origin: string | null;
    event_id: number | null;
  };
  build_outputs: { build_id: number; name: string; digest: string };
  artifacts: { build_id: number; output: string; path: string; digest: string; size: number };
  decisions: {
    id: Generated<number>;
    event_id: number | null;
    job: string | null;
    rule: string;
    source: string | null;
    version: string | null;
    build_id: number | null;
    detail: string;
    at: number;
  };
  pending_settles: { job: string; due_at: number; event_id: number | null };
  outbox: {
    id: Generated<number>;
    build_id: number;
    type: string;
    /** JSON snapshot of the build at the time of the change. */
    payload: string;
    created_at: number;
  };
  /** How far each report target got through the outbox (reporters/dispatcher.ts). */
  api_tokens: {
    name: string;
    sha256: string;
    /** Comma-separated scopes. */
    scopes: string;
    created_at: number;
    created_by: string;
    expires_at: number | null;
    last_used_at: number | null;
    revoked_at: number | null;
  };
  audit_log: {
    id: Generated<number>;
    at: number;
    actor: string;
    address: string;
    action: string;
    target: string;
    status: number;
    error_code: string | null;
  };
  report_cursors: {
    target: string;
    kind: string;
    last_outbox_id: number;
    last_error: string | null;
    updated_at: number;
  };
  /** One outbox row's delivery to one HTTP target: retries, dead letters, manual retries. */
  deliveries: {
    id: Generated<number>;
    outbox_id: number;
    target: string;
    state: string;
    attempts: Generated<number>;
    next_attempt_at: number | null;
    last_error: string | null;
    created_at: number;
    delivered_at: number | null;
  };
  /** A build's log bytes from `byte_offset` (migration 0013; PostgreSQL installations). */
  log_chunks: { build_id: number; byte_offset: number; length: number; bytes: Buffer };
  /** A complete blob of the content-addressed store; its bytes are `blob_chunks` 0..chunks-1. */
  blobs: { digest: string; size: number; chunks: number; stored_at: number };
  blob_chunks: { digest: string; seq: number; bytes: Buffer };
}
