-- When a message's turn was finished (answered or apologised for). A turn whose messages have no
-- answered_at was abandoned by a run that ended mid-turn: its number is not reused for new messages,
-- and the same messages arriving again resume it.
ALTER TABLE inbound_messages ADD COLUMN answered_at timestamptz;

UPDATE inbound_messages i SET answered_at = c.updated_at
  FROM conversations c WHERE c.id = i.conversation_id AND i.turn <= c.turns;
