-- API keys: each belongs to one tenant. Only a SHA-256 of the key is stored (keys are 32 random
-- bytes, so a fast hash is enough: there is nothing to brute-force); `prefix` lets people tell their
-- keys apart in a listing without the secret.
CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  tenant      text NOT NULL,
  name        text NOT NULL,
  prefix      text NOT NULL,
  key_hash    text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at);

-- Provider message ids a channel webhook has already handed to a conversation. WhatsApp and most
-- webhook senders deliver at least once; a redelivery is answered 200 without signalling again, so it
-- costs no workflow history. (The workflow dedupes by message id too; this is the cheap front door.)
CREATE TABLE channel_events (
  channel              text NOT NULL,
  provider_message_id  text NOT NULL,
  conversation_id      text NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, provider_message_id)
);

-- Conversation listings: a tenant's conversations, newest first, keyset-paginated.
CREATE INDEX conversations_tenant_created ON conversations (tenant, created_at DESC, id DESC);
