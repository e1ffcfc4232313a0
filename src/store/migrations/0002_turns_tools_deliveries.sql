-- What the conversation workflow records besides transcript items.

ALTER TABLE conversations
  ADD COLUMN turns      integer NOT NULL DEFAULT 0,
  ADD COLUMN last_error text;

-- Every identifier and measurement a provider returns, kept per call.
ALTER TABLE model_calls
  ADD COLUMN service_tier   text,
  ADD COLUMN fingerprint    text,
  ADD COLUMN cost_usd       numeric(14, 6),
  ADD COLUMN recovery       text,            -- null, or how the call recovered ('history_items', 'history_instructions', 'conversation_recreated')
  ADD COLUMN strategy       text,
  ADD COLUMN raw            jsonb;           -- provider metadata not mapped to a column (never message content)

-- One row per function call the model made. The idempotency key is handed to the tool, which uses
-- it to make its side effect happen once however often the activity is retried.
CREATE TABLE tool_calls (
  id               bigserial PRIMARY KEY,
  conversation_id  text NOT NULL,
  turn             integer NOT NULL,
  step             integer NOT NULL,
  call_id          text NOT NULL,
  name             text NOT NULL,
  arguments        text NOT NULL,
  output           text,
  status           text NOT NULL,            -- running | completed | failed | skipped
  attempts         integer NOT NULL DEFAULT 0,
  duration_ms      integer,
  idempotency_key  text NOT NULL UNIQUE,     -- {workflowId}/{turn}/{callId}
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_calls_conversation ON tool_calls (conversation_id, turn);

-- The outbound ledger: one reply per (conversation, turn). A retried delivery activity finds the row
-- already 'sent' and sends nothing.
CREATE TABLE deliveries (
  conversation_id      text NOT NULL,
  turn                 integer NOT NULL,
  channel              text NOT NULL,
  status               text NOT NULL,        -- pending | sent | failed
  attempts             integer NOT NULL DEFAULT 0,
  provider_message_id  text,
  error                text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, turn)
);

-- Message ids a conversation has accepted, with the turn that answered them: a channel that
-- redelivers an old message after the workflow's in-memory dedupe set is gone (a new run) is still
-- recognised.
CREATE TABLE inbound_messages (
  conversation_id  text NOT NULL,
  message_id       text NOT NULL,
  turn             integer NOT NULL,
  received_at      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, message_id)
);
