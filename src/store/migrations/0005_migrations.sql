-- Batch migrations of old conversations (Assistants threads, response chains, legacy message
-- tables) into the transcript. The migration workflows keep only counters; what each unit did, and
-- why one failed, is here.

-- One row per unit of work (a thread, a response chain, a conversation key) of one migration,
-- staged before the first child starts; the parent workflow pages through it by unit_id.
CREATE TABLE migration_units (
  migration_id     text NOT NULL,             -- the parent workflow id
  unit_id          text NOT NULL,             -- thread id, response id or conversation key
  external_id      text NOT NULL,             -- the user/channel identifier the conversation is keyed by
  status           text NOT NULL DEFAULT 'pending', -- pending | done | skipped | failed
  items            integer NOT NULL DEFAULT 0, -- items added (or, in a dry run, that would be added)
  conversation_id  text,
  reason           text,                      -- why it failed or was skipped
  note             text,                      -- e.g. where a response chain broke
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration_id, unit_id)
);
CREATE INDEX migration_units_status ON migration_units (migration_id, status);

-- Lines of a source file that could not be read, with their line numbers; the rest carries on.
CREATE TABLE migration_source_issues (
  migration_id  text NOT NULL,
  location      text NOT NULL,                -- 'export.jsonl:17'
  line          integer,
  reason        text NOT NULL,
  PRIMARY KEY (migration_id, location)
);

-- Objects of an export file, staged once so that each thread's child reads only its own rows.
CREATE TABLE migration_export_objects (
  migration_id  text NOT NULL,
  thread_id     text NOT NULL,
  object_type   text NOT NULL,                -- thread | thread.message | thread.run | thread.run.step
  object_id     text NOT NULL,
  line          integer NOT NULL,
  body          jsonb NOT NULL,
  PRIMARY KEY (migration_id, object_type, object_id)
);
CREATE INDEX migration_export_objects_thread ON migration_export_objects (migration_id, thread_id);

-- Where a conversation came from: thread id (or response id, or table key) to conversation. A
-- conversation may hold several sources (two threads of one user).
CREATE TABLE conversation_sources (
  source_kind      text NOT NULL,             -- assistants | response_chain | messages_table
  source_id        text NOT NULL,
  conversation_id  text NOT NULL,
  migration_id     text NOT NULL,             -- the first migration that brought it in
  note             text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_kind, source_id)
);
CREATE INDEX conversation_sources_conversation ON conversation_sources (conversation_id);

-- What a migrated item carried in its source beyond the Responses wire shape: Assistants
-- annotations (offsets into the text, file ids), the source object ids and creation times.
CREATE TABLE migrated_item_metadata (
  session_id  text NOT NULL,
  item_key    text NOT NULL,
  metadata    jsonb NOT NULL,
  PRIMARY KEY (session_id, item_key)
);
