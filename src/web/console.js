// The operators' console (`/console`): list conversations with filters, open one to read its
// transcript (tool calls and outputs included), state and usage, and act on it.
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

const auth = signIn({
  onReady: async () => {
    settings = await fetch('/pages/settings')
      .then((r) => (r.ok ? r.json() : settings))
      .catch(() => settings);
    $('who').textContent = session.tenant() ? `tenant ${session.tenant()}` : '';
    await loadList(true);
  },
  onSignOut: () => stopEvents(),
});

function listQuery() {
  const q = new URLSearchParams({ limit: '100' });
  const channel = $('filter-channel').value.trim();
  const status = $('filter-status').value;
  if (channel) q.set('channel', channel);
  if (status) q.set('status', status);
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
    if (err.status === 401 || err.status === 403) return auth.show(err.message);
    $('list-error').textContent = err.message;
    return;
  }
  $('list-error').textContent = '';
  const failedOnly = $('filter-failed').checked;
  const rows = page.data.filter((c) => !failedOnly || c.lastError);
  $('rows').append(...rows.map(row));
  cursor = page.next_cursor;
  $('more').hidden = !cursor;
  $('count').textContent = `${$('rows').children.length} shown`;
}

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
    el('td', { class: 'error-cell', title: c.lastError ?? '' }, c.lastError ? 'failed' : ''),
    el('td', {}, new Date(c.updatedAt).toLocaleString()),
  );
}

$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  void loadList(true);
});
for (const id of ['filter-channel', 'filter-status', 'filter-failed'])
  $(id).addEventListener('change', () => void loadList(true));
$('more').addEventListener('click', () => void loadList(false));
$('refresh').addEventListener('click', () => void loadList(true));

async function open(channel, id) {
  stopEvents();
  selected = { channel, id };
  for (const tr of $('rows').children)
    tr.classList.toggle('active', tr.dataset.channel === channel && tr.dataset.id === id);
  $('detail').hidden = false;
  $('detail-title').textContent = `${channel} / ${id}`;
  view.clear();
  await refreshState();
  stopEvents = streamEvents(`${conversationPath(channel, id)}/events`, (event, data) => {
    view.onEvent(event, data);
    if (event === 'turn.completed') void refreshState();
  });
}

async function refreshState() {
  if (!selected) return;
  const base = conversationPath(selected.channel, selected.id);
  const [state, usage] = await Promise.all([api(base), api(`${base}/usage`).catch(() => null)]);
  $('state').replaceChildren(
    ...[
      ['Status', state.status],
      ['Run', state.run],
      ['Agent', state.agent],
      ['Strategy', state.strategy],
      ['Turns', state.turns],
      ['Segment', state.segment],
      ['Waiting messages', state.inboxLength],
      ['Last response', state.lastResponseId ?? '—'],
      ['Last error', state.lastError ?? '—'],
      ['Model calls', usage ? usage.calls : '—'],
      ['Tokens in / out', usage ? `${usage.inputTokens} / ${usage.outputTokens}` : '—'],
      [
        'Cost',
        usage ? `$${usage.costUsd.toFixed(4)}${usage.unpricedCalls ? ' (some calls unpriced)' : ''}` : '—',
      ],
    ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]),
  );
  const link = $('temporal-link');
  if (settings.temporalUi) {
    link.href = `${settings.temporalUi}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(state.workflowId)}`;
    link.hidden = false;
  } else link.hidden = true;
}

async function act(what) {
  if (!selected) return;
  const base = conversationPath(selected.channel, selected.id);
  $('action-result').textContent = '';
  try {
    if (what === 'reset') await api(`${base}/reset`, { method: 'POST' });
    if (what === 'close') await api(base, { method: 'DELETE' });
    $('action-result').textContent = what === 'reset' ? 'Reset requested.' : 'Close requested.';
    await refreshState();
    void loadList(true);
  } catch (err) {
    $('action-result').textContent = err.message;
  }
}
$('reset').addEventListener('click', () => void act('reset'));
$('close').addEventListener('click', () => {
  if (confirm('Close this conversation? Queued messages are answered first.')) void act('close');
});

void auth.begin();
