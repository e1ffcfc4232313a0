// The operators' console (`/console`): list conversations with filters, open one to read its
// transcript (tool calls and outputs included), state, model calls and deliveries, and act on it:
// take over, reply as the operator, hand back, approve or reject a tool call, reset, close.
import { api, conversationPath, el, session, signIn, streamEvents } from './api.js';
import { TranscriptView } from './transcript.js';

const $ = (id) => document.getElementById(id);
const view = new TranscriptView($('transcript'), { showDetails: true });
let settings = { temporalUi: null, namespace: 'default' };
let selected = null;
let stopEvents = () => {};
let cursor = null;
// A newer load (a changed filter) makes an older one's answer stale: it is dropped, not appended.
let generation = 0;
// The same for a conversation's panels: a refresh answered after another conversation opened is dropped.
let opened = 0;
const OPERATOR = 'threadline.operator';
let refreshTimer;
/** The id of the operator reply being sent: kept until it is accepted, so a second click sends it once. */
let pendingReply = null;

const auth = signIn({
  onReady: async () => {
    settings = await fetch('/pages/settings')
      .then((r) => (r.ok ? r.json() : settings))
      .catch(() => settings);
    $('who').textContent = session.tenant() ? `tenant ${session.tenant()}` : '';
    $('operator').value = sessionStorage.getItem(OPERATOR) ?? '';
    await loadList(true);
  },
  onSignOut: () => {
    stopEvents();
    clearTimeout(refreshTimer);
  },
});

function listQuery() {
  const q = new URLSearchParams({ limit: '100' });
  const channel = $('filter-channel').value.trim();
  const status = $('filter-status').value;
  const human = $('filter-human').value;
  const cost = $('filter-cost').value.trim();
  if (channel) q.set('channel', channel);
  if (status) q.set('status', status);
  if (human) q.set('humanMode', human);
  if ($('filter-failed').checked) q.set('failedTurns', 'true');
  if ($('filter-approvals').checked) q.set('pendingApprovals', 'true');
  if (cost) q.set('minCostUsd', cost);
  if (cursor) q.set('cursor', cursor);
  return q;
}

async function loadList(fresh) {
  const mine = fresh ? ++generation : generation;
  if (fresh) cursor = null;
  let page;
  try {
    page = await api(`/v1/conversations?${listQuery()}`);
    if (mine !== generation) return;
    if (fresh) $('rows').replaceChildren();
  } catch (err) {
    if (mine !== generation) return;
    if (err.status === 401 || err.status === 403) return auth.show(err.message);
    $('list-error').textContent = err.message;
    return;
  }
  $('list-error').textContent = '';
  $('rows').append(...page.data.map(row));
  cursor = page.next_cursor;
  $('more').hidden = !cursor;
  $('count').textContent = `${$('rows').children.length} shown`;
}

const usd = (n) => `$${Number(n).toFixed(4)}`;

function row(c) {
  return el(
    'tr',
    {
      dataset: { channel: c.channel, id: c.conversationId },
      class: selected && selected.id === c.conversationId && selected.channel === c.channel ? 'active' : '',
      onclick: () => open(c.channel, c.conversationId),
    },
    el('td', {}, c.channel),
    el('td', {}, c.conversationId),
    el('td', {}, c.agent),
    el('td', {}, el('span', { class: `status ${c.status}` }, c.status)),
    el('td', { class: 'num' }, c.turns),
    el('td', { class: 'num error-cell', title: c.lastError ?? '' }, c.failedTurns || ''),
    el('td', {}, c.humanMode ? el('span', { class: 'badge human' }, 'human') : ''),
    el('td', { class: 'num' }, c.costUsd ? usd(c.costUsd) : ''),
    el('td', {}, new Date(c.updatedAt).toLocaleString()),
  );
}

$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  void loadList(true);
});
for (const id of [
  'filter-channel',
  'filter-status',
  'filter-human',
  'filter-failed',
  'filter-approvals',
  'filter-cost',
])
  $(id).addEventListener('change', () => void loadList(true));
$('more').addEventListener('click', () => void loadList(false));
$('refresh').addEventListener('click', () => void loadList(true));

async function open(channel, id) {
  stopEvents();
  clearTimeout(refreshTimer);
  selected = { channel, id };
  opened += 1;
  for (const tr of $('rows').children)
    tr.classList.toggle('active', tr.dataset.channel === channel && tr.dataset.id === id);
  $('detail').hidden = false;
  $('detail-title').textContent = `${channel} / ${id}`;
  $('action-result').textContent = '';
  view.clear();
  $('approvals').replaceChildren();
  await refreshState();
  stopEvents = streamEvents(`${conversationPath(channel, id)}/events`, (event, data) => {
    view.onEvent(event, data);
    // What a turn changes (state, approvals, calls, deliveries) is read again when it ends, and
    // when a tool call appears (it may be one waiting for approval).
    if (event === 'turn.completed' || (event === 'item' && data.item?.type === 'function_call'))
      void refreshState({ settle: event === 'turn.completed' });
  });
}

/**
 * Reads the state and the panels again. `settle`: once more a moment later, for what a turn writes
 * after it completes (its delivery goes out after the transcript records the reply).
 */
async function refreshState({ settle = false } = {}) {
  if (!selected) return;
  const mine = opened;
  const base = conversationPath(selected.channel, selected.id);
  const [state, usage, calls, deliveries] = await Promise.all([
    api(base),
    api(`${base}/usage`).catch(() => null),
    api(`${base}/model-calls?limit=100`).catch(() => null),
    api(`${base}/deliveries?limit=100`).catch(() => null),
  ]);
  if (mine !== opened) return;
  // While a turn runs, its state changes without an event (a call starts waiting for approval).
  clearTimeout(refreshTimer);
  if (settle || (state.status !== 'idle' && state.status !== 'closed'))
    refreshTimer = setTimeout(() => void refreshState(), 1000);
  $('state').replaceChildren(
    ...[
      ['Status', state.status],
      ['Run', state.run],
      ['Agent', state.agent],
      ['Strategy', state.strategy],
      ['Human mode', state.humanMode ? `yes, ${state.humanMode.operator}` : 'no'],
      ['Turns', state.turns],
      ['Segment', state.segment],
      ['Waiting messages', state.inboxLength],
      ['Last response', state.lastResponseId ?? '—'],
      ['Last error', state.lastError ?? '—'],
      ['Model calls', usage ? usage.calls : '—'],
      ['Tokens in / out', usage ? `${usage.inputTokens} / ${usage.outputTokens}` : '—'],
      ['Cost', usage ? `${usd(usage.costUsd)}${usage.unpricedCalls ? ' (some calls unpriced)' : ''}` : '—'],
    ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]),
  );
  showHumanMode(state.humanMode);
  showApprovals(state.pendingApprovals ?? []);
  view.markWaiting((state.pendingApprovals ?? []).map((p) => p.callId));
  showModelCalls(calls ? calls.data : []);
  showDeliveries(deliveries ? deliveries.data : []);
  const link = $('temporal-link');
  if (settings.temporalUi) {
    link.href = `${settings.temporalUi}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(state.workflowId)}`;
    link.hidden = false;
  } else link.hidden = true;
}

function showHumanMode(human) {
  $('human-banner').hidden = !human;
  $('human-banner').textContent = human
    ? `Human mode: ${human.operator} has this conversation since ${new Date(human.since).toLocaleString()}` +
      `${human.reason ? ` (${human.reason})` : ''}. The agent does not answer; replies below go to the customer.`
    : '';
  $('takeover').hidden = Boolean(human);
  $('handback').hidden = !human;
  $('operator-composer').hidden = !human;
}

/**
 * Cards are kept across refreshes (one per call id): the panel is read again every second while a
 * turn waits, and a re-render would empty the reason an operator is typing.
 */
function showApprovals(pending) {
  const box = $('approvals');
  box.hidden = pending.length === 0;
  const wanted = new Set(pending.map((p) => p.callId));
  for (const card of [...box.children]) if (!wanted.has(card.dataset.callId)) card.remove();
  const shown = new Set([...box.children].map((c) => c.dataset.callId));
  for (const p of pending) {
    if (shown.has(p.callId)) continue;
    const reason = el('input', { type: 'text', placeholder: 'Why (optional)', class: 'reason' });
    const decide = (approve) => () => void decideApproval(p.callId, approve, reason.value.trim());
    box.append(
      el(
        'div',
        { class: 'approval', dataset: { callId: p.callId } },
        el('strong', {}, p.tool),
        ` waits for an operator (turn ${p.turn}; rejected as expired ${new Date(p.expiresAt).toLocaleString()})`,
        el('pre', {}, p.arguments),
        el(
          'div',
          { class: 'row' },
          reason,
          el('button', { type: 'button', class: 'approve', onclick: decide(true) }, 'Approve'),
          el('button', { type: 'button', class: 'reject', onclick: decide(false) }, 'Reject'),
        ),
      ),
    );
  }
}

function showModelCalls(calls) {
  $('model-calls-count').textContent = `(${calls.length})`;
  $('model-calls').replaceChildren(
    ...calls.map((c) =>
      el(
        'tr',
        { dataset: { responseId: c.responseId ?? '' } },
        el('td', {}, `${c.turn}.${c.step}`),
        el('td', {}, c.agent ?? '—'),
        el('td', { class: 'mono', title: c.previousResponseId ?? '' }, c.responseId ?? '—'),
        el('td', { class: 'num' }, `${c.usage.inputTokens ?? '?'} / ${c.usage.outputTokens ?? '?'}`),
        el('td', { class: 'num' }, c.costUsd === null ? 'unpriced' : usd(c.costUsd)),
        el('td', {}, c.strategy ?? '—'),
        el('td', {}, c.recovery ?? ''),
      ),
    ),
  );
}

function showDeliveries(deliveries) {
  $('deliveries-count').textContent = `(${deliveries.length})`;
  $('deliveries').replaceChildren(
    ...deliveries.map((d) =>
      el(
        'tr',
        {},
        el('td', {}, d.turn),
        el('td', {}, d.part),
        el('td', { class: `delivery ${d.status}`, title: d.reason ?? '' }, d.status),
        el('td', {}, d.providerStatus ?? '—', d.errorCode ? ` (${d.errorCode})` : ''),
        el('td', { class: 'num' }, d.attempts),
      ),
    ),
  );
}

/** Who acts, as the audit trail records it; asked once per tab. */
function operatorName() {
  const name = $('operator').value.trim();
  if (!name) {
    $('action-result').textContent = 'Type your name in Operator first: it is recorded with what you do.';
    $('operator').focus();
    return null;
  }
  sessionStorage.setItem(OPERATOR, name);
  return name;
}

async function run(what, call, done) {
  $('action-result').textContent = '';
  try {
    await call();
    $('action-result').textContent = done;
    await refreshState();
    void loadList(true);
  } catch (err) {
    $('action-result').textContent = `${what}: ${err.message}`;
  }
}

async function decideApproval(callId, approve, reason) {
  const operator = operatorName();
  if (!operator || !selected) return;
  const base = conversationPath(selected.channel, selected.id);
  await run(
    approve ? 'Approve' : 'Reject',
    () =>
      api(`${base}/approvals/${encodeURIComponent(callId)}`, {
        method: 'POST',
        body: { approve, operator, ...(reason ? { reason } : {}) },
      }),
    approve ? 'Approved: the tool runs.' : 'Rejected: the model is told why.',
  );
}

$('takeover').addEventListener('click', () => {
  const operator = operatorName();
  if (!operator || !selected) return;
  const base = conversationPath(selected.channel, selected.id);
  void run(
    'Take over',
    () => api(`${base}/takeover`, { method: 'POST', body: { operator } }),
    'You have it.',
  );
});
$('handback').addEventListener('click', () => {
  const operator = operatorName();
  if (!operator || !selected) return;
  const base = conversationPath(selected.channel, selected.id);
  void run(
    'Hand back',
    () => api(`${base}/handback`, { method: 'POST', body: { operator } }),
    'Handed back: the agent answers again.',
  );
});
$('reset').addEventListener('click', () => {
  if (!selected) return;
  const base = conversationPath(selected.channel, selected.id);
  void run('Reset', () => api(`${base}/reset`, { method: 'POST' }), 'Reset requested.');
});
$('close').addEventListener('click', () => {
  if (!selected || !confirm('Close this conversation? Queued messages are answered first.')) return;
  const base = conversationPath(selected.channel, selected.id);
  void run('Close', () => api(base, { method: 'DELETE' }), 'Close requested.');
});

$('operator-composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('operator-text').value.trim();
  const operator = operatorName();
  if (!text || !operator || !selected) return;
  $('operator-send').disabled = true;
  $('operator-error').textContent = '';
  try {
    if (!pendingReply || pendingReply.text !== text) pendingReply = { id: crypto.randomUUID(), text };
    await api(`${conversationPath(selected.channel, selected.id)}/operator-messages`, {
      method: 'POST',
      body: { id: pendingReply.id, operator, text },
    });
    pendingReply = null;
    $('operator-text').value = '';
    // The answer comes once the reply went out: the deliveries panel has it now.
    void refreshState();
  } catch (err) {
    // Nothing was sent: the text stays in the box to send again.
    $('operator-error').textContent = err.message;
  } finally {
    $('operator-send').disabled = false;
  }
});

void auth.begin();
