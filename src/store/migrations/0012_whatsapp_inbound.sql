-- WhatsApp inbound: media bytes, reactions, and the metadata tools receive.

-- Media a customer sent, fetched once through the Graph API (src/media). Keyed by tenant: a
-- transcript's media reference resolves only within its own tenant. The bytes live here, never in
-- workflow history; an S3-compatible store can replace this table (src/media/store.ts).
CREATE TABLE media_objects (
  tenant           text NOT NULL,
  channel          text NOT NULL,
  media_id         text NOT NULL,              -- the channel's media id
  conversation_id  text,                       -- where it first arrived
  mime_type        text NOT NULL,
  byte_size        integer NOT NULL,
  sha256           text NOT NULL,              -- hex, of the bytes as stored
  filename         text,
  transcript       text,                       -- audio: the transcription, once made
  bytes            bytea NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, channel, media_id)
);
CREATE INDEX media_objects_conversation ON media_objects (conversation_id);

-- Reactions (an emoji on an earlier message): recorded, never answered. An empty emoji is a
-- reaction taken back.
CREATE TABLE inbound_reactions (
  tenant           text NOT NULL,
  channel          text NOT NULL,
  message_id       text NOT NULL,              -- the reaction's own provider id
  conversation_id  text NOT NULL,
  reacted_to       text NOT NULL,              -- the provider id of the message reacted to
  emoji            text NOT NULL,
  sent_at          timestamptz,
  received_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, message_id)
);
CREATE INDEX inbound_reactions_conversation ON inbound_reactions (conversation_id, received_at);

-- An inbound message's channel facts (type, location, button id, ...): what tools receive.
ALTER TABLE inbound_messages ADD COLUMN metadata jsonb;
