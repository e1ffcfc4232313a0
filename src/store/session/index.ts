// The Postgres store for @openai/agents users: PostgresSession and the item conversion it uses.
export {
  PostgresSession,
  SessionAccessError,
  type OpenSessionOptions,
  type SessionInfo,
  type SessionUpdate,
  type ListSessionsOptions,
} from './postgresSession.js';
export {
  toStoredItem,
  fromStoredItem,
  toWireItem,
  fromWireItem,
  type WireItem,
  type SdkPatch,
} from './items.js';
