-- WhatsApp outbound: channel actions, one ledger row per message sent, provider statuses, the
-- number a conversation came in on and what Meta said about its 24-hour window.

-- Channel actions a tool emitted with ctx.send() (a document, a location, buttons, a template).
-- Keyed by the tool call's idempotency key and the n-th send of that call, so a retried tool call
-- that sends again finds its row and adds nothing. `id` is the emission order across the turn.
CREATE TABLE channel_actions (
  id               bigserial PRIMARY KEY,
  conversation_id  text NOT NULL,
  turn             integer NOT NULL,
  idempotency_key  text NOT NULL,              -- the tool call's {workflowId}/{turn}/{callId}
  seq              integer NOT NULL,           -- 1 for the call's first send, 2 for the next, ...
  action           jsonb NOT NULL,             -- the validated ChannelAction
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (idempotency_key, seq)
);
CREATE INDEX channel_actions_turn ON channel_actions (conversation_id, turn, id);

-- A turn's output is several messages now: its actions in emission order, then its text. Each is
-- one ledger row, claimed and sent once, keyed by its part: 'text' (every row written before this
-- migration), 'action/{channel_actions.id}', or 'template' (the text replaced outside the window).
ALTER TABLE deliveries ADD COLUMN part text NOT NULL DEFAULT 'text';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_pkey;
ALTER TABLE deliveries ADD PRIMARY KEY (conversation_id, turn, part);
-- What the provider said after accepting the message (WhatsApp status webhooks): sent, delivered,
-- read or failed, never moving backwards; a failure keeps Meta's error code and title.
ALTER TABLE deliveries
  ADD COLUMN provider_status      text,
  ADD COLUMN provider_status_at   timestamptz,
  ADD COLUMN provider_error_code  integer,
  ADD COLUMN provider_error_title text;
CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id)
  WHERE provider_message_id IS NOT NULL;

-- The WhatsApp side of a conversation: the business number it came in on (replies go out from it),
-- when the customer last wrote to it (Meta's timestamp: the 24-hour window opens there) and when
-- Meta last refused a message as outside that window (error 131047).
CREATE TABLE whatsapp_conversations (
  conversation_id   text PRIMARY KEY,
  tenant            text NOT NULL,
  phone_number_id   text NOT NULL,
  last_inbound_at   timestamptz,
  window_closed_at  timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
