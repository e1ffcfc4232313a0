-- Which agent made each model call: a conversation may change agents by handoff, so the
-- conversation's agent alone no longer says who answered a step. Null for calls recorded before.
ALTER TABLE model_calls ADD COLUMN agent text;
