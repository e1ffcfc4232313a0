-- Sessions as seen by @openai/agents users (PostgresSession). The items themselves stay in
-- session_items, shared with the runtime's conversations: one transcript, one source of truth.
CREATE TABLE sessions (
  id                  text PRIMARY KEY,
  tenant              text NOT NULL,
  user_id             text NOT NULL,
  name                text,
  description         text,
  agent_name          text,
  agent_instructions  text,
  active              boolean NOT NULL DEFAULT true,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
-- "A user's sessions, most recently touched first" is the listing query.
CREATE INDEX sessions_tenant_user ON sessions (tenant, user_id, updated_at DESC);

-- What an Agents SDK item carries beyond its Responses wire shape (SDK-only fields such as the
-- name on a function_call_result, or providerData the wire form cannot hold), as a small patch
-- over the item rebuilt from `item`. Null for items written by the runtime and for most SDK items.
ALTER TABLE session_items ADD COLUMN sdk jsonb;

-- History transactions already applied, by the caller's operation id: a retried transaction finds
-- its row and changes nothing; the same id with a different transaction is refused. Written in
-- the same database transaction as the items it records.
CREATE TABLE session_operations (
  session_id    text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  operation_id  text NOT NULL,
  transaction   jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, operation_id)
);
