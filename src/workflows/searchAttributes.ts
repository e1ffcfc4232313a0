import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes that let operators find a conversation in the Temporal UI
 * (e.g. `ThreadlineTenant = "acme" AND ThreadlineStatus = "failed"`). The dev server registers them
 * at start; a production cluster needs them created once (docs/deploy.md).
 */
export const TENANT = defineSearchAttributeKey('ThreadlineTenant', 'KEYWORD');
export const CHANNEL = defineSearchAttributeKey('ThreadlineChannel', 'KEYWORD');
export const AGENT = defineSearchAttributeKey('ThreadlineAgent', 'KEYWORD');
export const STATUS = defineSearchAttributeKey('ThreadlineStatus', 'KEYWORD');

/** True while an operator has the conversation (human takeover); set from the first takeover on. */
export const HUMAN_MODE = defineSearchAttributeKey('ThreadlineHumanMode', 'BOOL');

export const ALL_SEARCH_ATTRIBUTES = [TENANT, CHANNEL, AGENT, STATUS, HUMAN_MODE];
