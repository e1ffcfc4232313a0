import type { EmulatorClock } from './clock.js';
import { toUnixSeconds } from './clock.js';
import { conversationNotFound, invalidType, missingParameter, notFound } from './errors.js';
import { newId } from './ids.js';
import { normalizeInput, type Item } from './items.js';
import { paginate, parseListQuery } from './pagination.js';
import type { EmulatorState, StoredConversation } from './state.js';
import { arrayLengthWithin, isRecord, parseMetadata, rejectUnknownParameters } from './validation.js';

export const MAX_ITEMS_PER_CALL = 20;

export class ConversationService {
  constructor(
    private readonly state: EmulatorState,
    private readonly clock: EmulatorClock,
  ) {}

  create(body: unknown) {
    const b = isRecord(body) ? body : {};
    rejectUnknownParameters(b, new Set(['items', 'metadata']));
    const metadata = parseMetadata(b.metadata);
    const items =
      b.items === undefined || b.items === null
        ? []
        : normalizeInput(arrayLengthWithin(b.items, 'items', 0, MAX_ITEMS_PER_CALL), 'items');
    const conversation: StoredConversation = {
      id: newId('conv'),
      created_at: toUnixSeconds(this.clock.now()),
      metadata,
      items,
    };
    this.state.conversations.set(conversation.id, conversation);
    this.state.changed();
    return toWire(conversation);
  }

  retrieve(id: string) {
    return toWire(this.require(id));
  }

  update(id: string, body: unknown) {
    const conversation = this.require(id);
    const b = isRecord(body) ? body : {};
    rejectUnknownParameters(b, new Set(['metadata']));
    if (b.metadata === undefined) throw missingParameter('metadata');
    conversation.metadata = parseMetadata(b.metadata);
    this.state.changed();
    return toWire(conversation);
  }

  delete(id: string) {
    this.require(id);
    this.state.conversations.delete(id);
    this.state.changed();
    return { id, object: 'conversation.deleted' as const, deleted: true };
  }

  addItems(id: string, body: unknown) {
    const conversation = this.require(id);
    const b = isRecord(body) ? body : {};
    rejectUnknownParameters(b, new Set(['items']));
    if (b.items === undefined) throw missingParameter('items');
    if (!Array.isArray(b.items)) throw invalidType('items', 'an array', b.items);
    const raw = arrayLengthWithin(b.items, 'items', 1, MAX_ITEMS_PER_CALL);
    const items = normalizeInput(raw, 'items', new Set(conversation.items.map((i) => i.id)));
    this.append(conversation, items);
    this.state.changed();
    return {
      object: 'list' as const,
      data: items,
      first_id: items[0]?.id ?? null,
      last_id: items[items.length - 1]?.id ?? null,
      has_more: false,
    };
  }

  listItems(id: string, query: Record<string, unknown>) {
    const conversation = this.require(id);
    return paginate(conversation.items, parseListQuery(query, { order: 'desc' }), (i) => i.id);
  }

  getItem(id: string, itemId: string): Item {
    const item = this.require(id).items.find((i) => i.id === itemId);
    if (!item) throw itemNotFound(itemId);
    return item;
  }

  /** Deleting an item answers with the conversation object, as the spec says. */
  deleteItem(id: string, itemId: string) {
    const conversation = this.require(id);
    const at = conversation.items.findIndex((i) => i.id === itemId);
    if (at < 0) throw itemNotFound(itemId);
    conversation.items.splice(at, 1);
    this.state.changed();
    return toWire(conversation);
  }

  require(id: string): StoredConversation {
    const conversation = this.state.conversations.get(id);
    if (!conversation) throw conversationNotFound(id);
    return conversation;
  }

  append(conversation: StoredConversation, items: readonly Item[]): void {
    conversation.items.push(...items);
  }
}

const itemNotFound = (itemId: string) => notFound(`Item with id '${itemId}' not found.`);

function toWire(c: StoredConversation) {
  return { id: c.id, object: 'conversation' as const, created_at: c.created_at, metadata: c.metadata };
}
