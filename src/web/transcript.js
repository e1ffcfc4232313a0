// Renders a conversation's event stream (GET .../events) as a transcript: user messages, tool calls
// with their outputs, replies, and turn status. Shared by the chat and the console.
import { el } from './api.js';

function textOf(item) {
  if (typeof item.content === 'string') return item.content;
  if (!Array.isArray(item.content)) return '';
  return item.content
    .map((p) => (typeof p.text === 'string' ? p.text : p.type === 'input_image' ? '[image]' : ''))
    .join('');
}

export class TranscriptView {
  constructor(root, { showDetails = false } = {}) {
    this.root = root;
    this.showDetails = showDetails;
    this.calls = new Map();
    this.typing = null;
  }

  clear() {
    this.root.replaceChildren();
    this.calls.clear();
    this.typing = null;
  }

  scroll() {
    this.root.scrollTop = this.root.scrollHeight;
  }

  setTyping(on) {
    if (on && !this.typing) {
      this.typing = el('div', { class: 'typing', 'aria-live': 'polite' }, 'Assistant is writing…');
      this.root.append(this.typing);
    } else if (!on && this.typing) {
      this.typing.remove();
      this.typing = null;
    }
    this.scroll();
  }

  /** Places a node before the typing indicator, so the indicator stays last. */
  add(node) {
    if (this.typing) this.root.insertBefore(node, this.typing);
    else this.root.append(node);
    this.scroll();
    return node;
  }

  onEvent(event, data) {
    if (event === 'turn.started') this.setTyping(true);
    else if (event === 'turn.completed') {
      this.setTyping(false);
      if (data.status === 'failed')
        this.add(el('div', { class: 'notice failed' }, `Turn ${data.turn} failed: the apology was sent.`));
    } else if (event === 'reply') {
      this.add(
        el(
          'div',
          { class: 'msg assistant', dataset: { turn: data.turn ?? '' } },
          el('div', { class: 'bubble' }, data.text),
          this.showDetails ? el('div', { class: 'meta' }, `turn ${data.turn} · ${data.createdAt}`) : null,
        ),
      );
    } else if (event === 'item') this.item(data);
  }

  item(data) {
    const item = data.item ?? {};
    if (item.type === 'message' && item.role === 'user') {
      this.add(
        el(
          'div',
          { class: 'msg user', dataset: { turn: data.turn ?? '' } },
          el('div', { class: 'bubble' }, textOf(item)),
          this.showDetails ? el('div', { class: 'meta' }, `turn ${data.turn} · ${data.createdAt}`) : null,
        ),
      );
    } else if (item.type === 'function_call') {
      const status = el('span', { class: 'tool-status' }, 'running…');
      const output = el('div', { class: 'tool-output pending' }, 'running…');
      const card = el(
        'details',
        { class: 'tool', open: this.showDetails, dataset: { callId: item.call_id } },
        el('summary', {}, el('span', { class: 'tool-name' }, item.name), ' ', status),
        el('pre', { class: 'tool-args' }, prettyJson(item.arguments)),
        output,
      );
      this.calls.set(item.call_id, { status, output });
      this.add(card);
    } else if (item.type === 'function_call_output') {
      const call = this.calls.get(item.call_id);
      const text = typeof item.output === 'string' ? item.output : JSON.stringify(item.output);
      if (call) {
        call.status.textContent = 'done';
        call.output.classList.remove('pending');
        call.output.replaceChildren(el('pre', {}, prettyJson(text)));
      } else this.add(el('div', { class: 'tool-output' }, el('pre', {}, prettyJson(text))));
    } else if (this.showDetails && item.type === 'message') {
      // Context the runtime adds for the model (the turn's time, the channel): shown to operators only.
      this.add(el('div', { class: 'notice context' }, `${item.role}: ${textOf(item).slice(0, 200)}`));
    } else if (this.showDetails && item.type && item.type !== 'reasoning') {
      this.add(el('div', { class: 'notice' }, `${item.type} item`));
    }
  }
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text ?? '');
  }
}
