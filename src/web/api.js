// Shared by the chat and the console. The API key lives in sessionStorage (gone when the tab
// closes) and travels only in the Authorization header: never in a URL, so never in a log line.
// Plain ES modules, no build step: the API serves these files as they are.

const KEY = 'threadline.apiKey';
const TENANT = 'threadline.tenant';

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  tenant: () => sessionStorage.getItem(TENANT),
  save(key, tenant) {
    sessionStorage.setItem(KEY, key);
    if (tenant) sessionStorage.setItem(TENANT, tenant);
    else sessionStorage.removeItem(TENANT);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(TENANT);
  },
};

function headers(extra = {}) {
  const h = { authorization: `Bearer ${session.key() ?? ''}`, ...extra };
  const tenant = session.tenant();
  // The admin key acts for the tenant named in X-Tenant; a tenant key may only name its own.
  if (tenant) h['x-tenant'] = tenant;
  return h;
}

export async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, (e && e.message) || `${res.status} ${res.statusText}`, e && e.code);
  }
  return data;
}

/**
 * The sign-in both pages share: the dev key in `npm run dev`, else the form (`#signin`, `#key`, and
 * `#tenant` where the page has one, for the admin key). `onReady` runs once a key is there; `show`
 * brings the form back, e.g. with the API's message after a 401.
 */
export function signIn({ onReady, onSignOut = () => {} }) {
  const $ = (id) => document.getElementById(id);
  const show = (message) => {
    $('app').hidden = true;
    $('signin').hidden = false;
    $('signin-error').textContent = message ?? '';
  };
  const begin = async () => {
    if (!session.key()) {
      const dev = await devKey();
      if (dev) session.save(dev.key, null);
    }
    if (!session.key()) return show();
    $('signin').hidden = true;
    $('app').hidden = false;
    await onReady();
  };
  $('signin').addEventListener('submit', (e) => {
    e.preventDefault();
    session.save($('key').value.trim(), $('tenant') ? $('tenant').value.trim() || null : null);
    $('key').value = '';
    void begin();
  });
  $('signout').addEventListener('click', () => {
    onSignOut();
    session.clear();
    show();
  });
  return { begin, show };
}

/** In `npm run dev` the API hands the dev tenant's key to pages on this machine; elsewhere: null. */
async function devKey() {
  const res = await fetch('/dev/key').catch(() => null);
  if (!res || !res.ok) return null;
  const body = await res.json().catch(() => null);
  return body && typeof body.key === 'string' ? body : null;
}

export function conversationPath(channel, id) {
  return `/v1/conversations/${encodeURIComponent(channel)}/${encodeURIComponent(id)}`;
}

/**
 * Server-Sent Events over fetch (EventSource cannot send an Authorization header). Reconnects with
 * Last-Event-ID after a drop, so the caller sees every event once, in order. Returns a stop function.
 */
export function streamEvents(path, onEvent, { onState = () => {} } = {}) {
  const controller = new AbortController();
  let lastId = null;
  let retryMs = 1000;
  (async () => {
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(path, {
          headers: headers(lastId ? { 'last-event-id': lastId } : {}),
          signal: controller.signal,
        });
        if (!res.ok || !res.body) throw new ApiError(res.status, `events: ${res.status}`);
        onState('open');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = parseFrame(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (frame.retry) retryMs = frame.retry;
            if (frame.id !== undefined) lastId = frame.id;
            if (frame.event && frame.data !== undefined) onEvent(frame.event, frame.data, frame.id);
          }
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          onState('denied');
          return;
        }
      }
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, retryMs));
    }
  })();
  return () => controller.abort();
}

function parseFrame(text) {
  const frame = {};
  const data = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
    else if (field === 'retry' && /^\d+$/.test(value)) frame.retry = Number(value);
  }
  if (data.length) {
    try {
      frame.data = JSON.parse(data.join('\n'));
    } catch {
      frame.data = data.join('\n');
    }
  }
  return frame;
}

/** Builds a DOM node; children that are strings become text nodes, never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
