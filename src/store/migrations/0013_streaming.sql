-- Recent model stream deltas: what a streaming model step has said so far, for SSE subscribers on
-- any API instance (NOTIFY threadline_stream wakes them; this table is what they read). Not content
-- of record: the transcript (session_items) holds the final output. Bounded: a step's stream
-- prunes its conversation to the current and previous turn, and rows older than an hour go
-- (src/streaming/retention.ts); a purge deletes a conversation's rows.
CREATE TABLE stream_events (
  conversation_id  text NOT NULL,
  turn             integer NOT NULL,
  step             integer NOT NULL,
  attempt          integer NOT NULL,           -- the model activity's attempt (a retry streams again)
  seq              integer NOT NULL,           -- order within the attempt; 0 is the superseded marker
  kind             text NOT NULL,              -- text | item.added | item.done | superseded
  data             jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, turn, step, attempt, seq)
);
CREATE INDEX stream_events_created_at ON stream_events (created_at);
