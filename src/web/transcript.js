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

/**
 * Live model output (`stream.*` events) is shown as it arrives and given up for what the transcript
 * records: a step's `reply` replaces its streamed bubble (no duplicate), `stream.superseded` drops
 * the text of an attempt that died (never two answers glued), and `turn.completed` drops whatever
 * no reply confirmed (a turn that failed for good). See docs/streaming.md.
 */
export class TranscriptView {
  constructor(root, { showDetails = false } = {}) {
    this.root = root;
    this.showDetails = showDetails;
    this.calls = new Map();
    /** Streamed assistant messages not yet confirmed by a reply, oldest first. */
    this.partials = [];
    this.typing = null;
  }

  clear() {
    this.root.replaceChildren();
    this.calls.clear();
    this.partials = [];
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
      this.dropPartials((p) => p.turn === data.turn);
      this.dropStreamedCalls((c) => c.turn === data.turn);
      this.setTyping(false);
      if (data.status === 'failed')
        this.add(el('div', { class: 'notice failed' }, `Turn ${data.turn} failed: the apology was sent.`));
    } else if (event === 'reply') this.reply(data);
    else if (event === 'item') this.item(data);
    else if (event === 'stream.item.added') this.streamItem(data, false);
    else if (event === 'stream.item.done') this.streamItem(data, true);
    else if (event === 'stream.delta') this.delta(data);
    else if (event === 'stream.superseded') {
      const older = (p) => p.turn === data.turn && p.step === data.step && p.attempt < data.attempt;
      this.dropPartials(older);
      this.dropStreamedCalls(older);
    }
  }

  reply(data) {
    const meta = [
      data.operator ? `operator ${data.operator}` : null,
      this.showDetails ? `turn ${data.turn} · ${data.createdAt}` : null,
    ].filter(Boolean);
    const content = [
      el('div', { class: 'bubble' }, data.text),
      meta.length ? el('div', { class: 'meta' }, meta.join(' · ')) : null,
    ];
    // The reply is authoritative: it takes the place of its step's streamed text, whatever that showed.
    const index = this.partials.findIndex((p) => p.turn === data.turn);
    const cls = `msg assistant${data.operator ? ' operator' : ''}`;
    if (index >= 0) {
      const [partial] = this.partials.splice(index, 1);
      partial.node.className = cls;
      partial.node.replaceChildren(...content.filter(Boolean));
      partial.node.dataset.seq = data.id;
      this.scroll();
      return;
    }
    this.add(el('div', { class: cls, dataset: { turn: data.turn ?? '', seq: data.id } }, ...content));
  }

  partialFor(data) {
    const same = (p) => p.turn === data.turn && p.step === data.step && p.outputIndex === data.outputIndex;
    let partial = this.partials.find(same);
    if (partial && partial.attempt !== data.attempt) {
      // A newer attempt without a marker seen (a client that joined late): its text starts again.
      if (partial.attempt > data.attempt) return null;
      this.dropPartials((p) => p === partial);
      partial = undefined;
    }
    if (!partial) {
      const bubble = el('div', { class: 'bubble' });
      const node = this.add(
        el('div', { class: 'msg assistant streaming', dataset: { turn: data.turn } }, bubble),
      );
      partial = { ...data, node, bubble, text: '' };
      delete partial.item;
      this.partials.push(partial);
    }
    return partial;
  }

  delta(data) {
    const partial = this.partialFor(data);
    if (!partial) return;
    partial.text += data.text;
    partial.bubble.textContent = partial.text;
    this.scroll();
  }

  streamItem(data, done) {
    const item = data.item ?? {};
    if (item.type === 'message' && item.role === 'assistant' && !done) this.partialFor(data);
    else if (item.type === 'function_call' && item.call_id) {
      // The call shows while the model writes it; its `item` event later confirms it.
      const known = this.calls.get(item.call_id);
      if (known) {
        if (done && item.arguments !== undefined) known.args.textContent = prettyJson(item.arguments);
        return;
      }
      this.toolCard(item, { turn: data.turn, step: data.step, attempt: data.attempt, streamed: true });
      this.calls.get(item.call_id).status.textContent = 'writing…';
    }
  }

  toolCard(item, extra) {
    const status = el('span', { class: 'tool-status' }, 'running…');
    const output = el('div', { class: 'tool-output pending' }, 'running…');
    const args = el('pre', { class: 'tool-args' }, prettyJson(item.arguments));
    const card = el(
      'details',
      { class: 'tool', open: this.showDetails, dataset: { callId: item.call_id } },
      el('summary', {}, el('span', { class: 'tool-name' }, item.name), ' ', status),
      args,
      output,
    );
    this.calls.set(item.call_id, { status, output, args, card, ...extra });
    this.add(card);
  }

  /** Marks the cards of calls an operator has to decide (the console knows them from the state). */
  markWaiting(callIds) {
    for (const [id, c] of this.calls)
      if (callIds.includes(id) && c.output.classList.contains('pending')) {
        c.status.textContent = 'waiting for approval';
        c.output.textContent = 'waiting for an operator';
      }
  }

  dropPartials(which) {
    for (const p of this.partials.filter(which)) p.node.remove();
    this.partials = this.partials.filter((p) => !which(p));
  }

  dropStreamedCalls(which) {
    for (const [id, c] of this.calls)
      if (c.streamed && which(c)) {
        c.card.remove();
        this.calls.delete(id);
      }
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
      const known = this.calls.get(item.call_id);
      if (known) {
        known.streamed = false;
        known.status.textContent = 'running…';
        known.args.textContent = prettyJson(item.arguments);
      } else this.toolCard(item, { turn: data.turn, streamed: false });
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
