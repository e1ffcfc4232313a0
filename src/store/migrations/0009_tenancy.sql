-- Tenancy: what a tenant may read about failures and purges, and what only operators may.

-- The raw text of a failed model or tool activity. Tenants see a sanitized reason and the id;
-- upstream error text (OpenAI messages can carry quota details or key fragments) stays here,
-- readable with the admin key only (GET /v1/admin/errors/{id}), never logged. One row per
-- activity execution: retries update it, so the id the workflow reports is stable.
CREATE TABLE error_records (
  id               text PRIMARY KEY,           -- err_<hex>
  tenant           text,
  conversation_id  text,
  activity         text NOT NULL,              -- callModel, runTool
  type             text NOT NULL,              -- the ApplicationFailure type (OpenAI429, ...)
  reason           text NOT NULL,              -- what the tenant sees
  message          text NOT NULL,              -- the raw upstream text
  details          jsonb,
  attempts         integer NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX error_records_conversation ON error_records (conversation_id, created_at);

-- The last purge of a conversation (DELETE ...?purge=true): what it deleted, in Postgres and at
-- OpenAI. A later purge of the same conversation updates it.
CREATE TABLE purge_records (
  conversation_id  text PRIMARY KEY,
  tenant           text NOT NULL,
  status           text NOT NULL,              -- running | completed | partial
  purge_id         text NOT NULL,              -- the purge workflow run that wrote it
  items_deleted    integer NOT NULL DEFAULT 0,
  runs_deleted     integer NOT NULL DEFAULT 0,
  requested_at     timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz
);

-- The OpenAI objects a purge deletes: stored responses and conversation objects, listed from
-- model_calls and conversations before the transcript goes. 'deleted' includes "already gone" (404).
CREATE TABLE purge_targets (
  conversation_id  text NOT NULL,
  kind             text NOT NULL,              -- response | conversation
  openai_id        text NOT NULL,
  status           text NOT NULL DEFAULT 'pending', -- pending | deleted | failed
  detail           text,                       -- 'already gone', or the sanitized reason of a failure
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, kind, openai_id)
);

-- A key the admin passed for a migration source at another endpoint (source.apiKey). It stays
-- out of the workflow input (Temporal history) and is read by the activity that builds the client.
-- The worker's own OpenAI key only ever goes to the configured OpenAI endpoint.
CREATE TABLE migration_source_keys (
  migration_id  text PRIMARY KEY,             -- the migration workflow id
  api_key       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
