-- People in the loop: tool calls that wait for an operator's approval, and conversations an
-- operator has taken over from the agent (docs/approvals-and-takeover.md).

-- A function call of a tool declared with `needsApproval`, from the moment the tool said it needs
-- one. The workflow holds the decision (durably, in its history); this row is what the API lists
-- and the audit trail: who decided, why, when.
CREATE TABLE tool_approvals (
  conversation_id  text NOT NULL,
  call_id          text NOT NULL,
  tenant           text NOT NULL,
  turn             integer NOT NULL,
  step             integer NOT NULL,
  tool             text NOT NULL,
  arguments        text NOT NULL,
  status           text NOT NULL DEFAULT 'pending', -- pending | approved | rejected | expired | cancelled
  requested_at     timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz,
  decided_by       text,                            -- the operator's name; null for expired/cancelled
  reason           text,
  decided_at       timestamptz,
  PRIMARY KEY (conversation_id, call_id)
);
CREATE INDEX tool_approvals_pending ON tool_approvals (tenant, status) WHERE status = 'pending';

-- Human mode: the agent does not answer; an operator does. Restored by a new run of the workflow.
ALTER TABLE conversations
  ADD COLUMN human_mode      boolean NOT NULL DEFAULT false,
  ADD COLUMN human_operator  text,
  ADD COLUMN human_reason    text,
  ADD COLUMN human_since     timestamptz;

-- A customer message recorded while a human had the conversation: no model call, no reply.
ALTER TABLE inbound_messages ADD COLUMN in_human_mode boolean NOT NULL DEFAULT false;

-- An operator's reply: its own turn, one assistant item (item_key) in the transcript, delivered
-- through the deliveries ledger under that turn like any reply. message_id makes it idempotent.
CREATE TABLE operator_messages (
  conversation_id  text NOT NULL,
  message_id       text NOT NULL,
  tenant           text NOT NULL,
  turn             integer NOT NULL,
  operator         text NOT NULL,
  item_key         text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, message_id),
  UNIQUE (conversation_id, turn)
);
