-- Delivery claims. A send is claimed before it happens ('sending', with the attempt and a lease),
-- so a retry knows whether an earlier attempt may already have sent: it finds 'sending' with the
-- lease run out, sends again (the provider gets the same idempotency key) and counts the possible
-- duplicate here, where the metrics read it. A live lease makes the retry wait instead.
ALTER TABLE deliveries
  ADD COLUMN tenant               text,
  ADD COLUMN lease_attempt        integer,                 -- the activity attempt holding the claim
  ADD COLUMN lease_until          timestamptz,             -- the claim's end; past it a retry may take over
  ADD COLUMN possible_duplicates  integer NOT NULL DEFAULT 0,
  ADD COLUMN history              jsonb NOT NULL DEFAULT '[]'::jsonb; -- per attempt: {attempt, at, outcome} (never text)
