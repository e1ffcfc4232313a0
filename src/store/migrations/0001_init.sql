-- Conversations: one row per conversation workflow. The transcript lives in session_items;
-- Temporal history only ever sees ids and small facts.
CREATE TABLE conversations (
  id                     text PRIMARY KEY,          -- the workflow id: conversation:{tenant}:{channel}:{externalId}
  tenant                 text NOT NULL,
  channel                text NOT NULL,
  external_id            text NOT NULL,
  agent                  text NOT NULL,
  strategy               text NOT NULL DEFAULT 'previous_response_id',
  status                 text NOT NULL DEFAULT 'active',
  last_response_id       text,
  openai_conversation_id text,
  segment                integer NOT NULL DEFAULT 0,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, channel, external_id)
);

-- Transcript items in the Responses API wire shape. seq is gapless per session; the primary key
-- also serves "latest N" (a backward index scan). item_key makes retried writes idempotent:
-- (turn, step, item) for runtime writes.
CREATE TABLE session_items (
  session_id  text NOT NULL,
  seq         bigint NOT NULL,
  item        jsonb NOT NULL,
  type        text NOT NULL,
  role        text,
  turn        integer,
  segment     integer NOT NULL DEFAULT 0,
  item_key    text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, seq),
  UNIQUE (session_id, item_key)
);
CREATE INDEX session_items_turn ON session_items (session_id, turn);

-- Every call to the model, with every identifier the provider returned.
CREATE TABLE model_calls (
  id                   bigserial PRIMARY KEY,
  conversation_id      text NOT NULL,
  turn                 integer NOT NULL,
  step                 integer NOT NULL,
  response_id          text,
  previous_response_id text,
  openai_conversation_id text,
  request_id           text,
  model                text NOT NULL,
  status               text NOT NULL,
  input_tokens         integer,
  cached_input_tokens  integer,
  output_tokens        integer,
  reasoning_tokens     integer,
  latency_ms           integer,
  recovered            boolean NOT NULL DEFAULT false,
  error                jsonb,
  created_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (conversation_id, turn, step)
);
