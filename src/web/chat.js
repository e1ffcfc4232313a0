// The web chat (`/`): pick or start a conversation on the `web` channel, type, and watch the
// transcript as the events stream arrives (tool calls as they happen, then the reply).
import { api, conversationPath, el, signIn, streamEvents } from './api.js';
import { TranscriptView } from './transcript.js';

const CHANNEL = 'web';
const $ = (id) => document.getElementById(id);
const view = new TranscriptView($('transcript'));
let current = null;
let stopEvents = () => {};

const auth = signIn({
  onReady: async () => {
    await refreshList();
    const first = $('conversations').querySelector('button[data-id]');
    if (first) select(first.dataset.id);
    else newConversation();
  },
  onSignOut: () => stopEvents(),
});

async function refreshList() {
  let page;
  try {
    page = await api(`/v1/conversations?channel=${CHANNEL}&limit=100`);
  } catch (err) {
    if (err.status === 401 || err.status === 403) return auth.show(err.message);
    throw err;
  }
  const ids = page.data.map((c) => c.conversationId);
  if (current && !ids.includes(current)) ids.unshift(current);
  $('conversations').replaceChildren(
    ...ids.map((id) =>
      el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            dataset: { id },
            class: id === current ? 'active' : '',
            onclick: () => select(id),
          },
          id,
        ),
      ),
    ),
  );
}

function select(id) {
  stopEvents();
  current = id;
  view.clear();
  $('title').textContent = id;
  for (const b of $('conversations').querySelectorAll('button[data-id]'))
    b.classList.toggle('active', b.dataset.id === id);
  stopEvents = streamEvents(
    `${conversationPath(CHANNEL, id)}/events`,
    (event, data) => view.onEvent(event, data),
    {
      onState: (s) => ($('connection').textContent = s === 'open' ? '' : s),
    },
  );
  $('text').focus();
}

function newConversation() {
  const id = `chat-${crypto.randomUUID().slice(0, 8)}`;
  select(id);
  void refreshList();
}

$('new').addEventListener('click', newConversation);

// Enter sends, Shift+Enter starts a new line.
$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text || !current) return;
  $('send').disabled = true;
  $('composer-error').textContent = '';
  try {
    await api(`${conversationPath(CHANNEL, current)}/messages`, {
      method: 'POST',
      body: { id: crypto.randomUUID(), text },
    });
    $('text').value = '';
    void refreshList();
  } catch (err) {
    // Nothing was accepted: the text stays in the box to send again.
    $('composer-error').textContent = err.message;
  } finally {
    $('send').disabled = false;
    $('text').focus();
  }
});

void auth.begin();
