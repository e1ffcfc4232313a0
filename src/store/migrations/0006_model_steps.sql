-- Where an OpenAI conversation stood before a model step first called it (the `conversation`
-- strategy). A retry of the step deletes whatever an earlier attempt appended after this item (a
-- call applied whose answer was lost), so the conversation holds the step's input once.
-- last_item_id is null when the conversation was empty.
CREATE TABLE model_step_marks (
  conversation_id        text NOT NULL,
  turn                   integer NOT NULL,
  step                   integer NOT NULL,
  openai_conversation_id text NOT NULL,
  last_item_id           text,
  created_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, turn, step)
);
