import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tool } from '@openai/agents';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { conciergeAgent } from '../../src/agents/concierge/index.js';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry } from '../../src/agents/registry.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';
import { launchBrowser } from '../support/browser.js';

/**
 * The web chat and the console, used as a person uses them: in headless Chromium, against a real
 * API, worker, Temporal and PostgreSQL, and this file's own emulator (its faults slow or cut the
 * model's stream for these turns only). UPDATE_SCREENSHOTS=1 also writes docs/screenshots/*.png.
 */
let emulator: Emulator;
let env: ApiEnv;
let browser: Browser;
let devBase: string;
let plainBase: string;
let cashierBase: string;
let key: string;
let refunds = 0;
const screenshots = process.env.UPDATE_SCREENSHOTS === '1';
const shotDir = new URL('../../docs/screenshots/', import.meta.url);

/** An agent whose refunds wait for an operator (needsApproval). */
const cashier = defineAgent({
  name: 'cashier',
  model: 'gpt-5-mini',
  instructions: 'Refund when asked; be brief.',
  tools: [
    tool({
      name: 'refund',
      description: 'Refunds an amount to the customer.',
      parameters: z.object({ amount: z.number() }),
      strict: true,
      needsApproval: true,
      execute: async ({ amount }) => {
        refunds += 1;
        return `refunded ${amount} EUR`;
      },
    }),
  ],
});

beforeAll(async () => {
  emulator = await startEmulator();
  env = await startApiEnv({
    openaiBaseUrl: emulator.baseUrl,
    agents: createRegistry([conciergeAgent('gpt-5-mini'), cashier]),
  });
  key = await env.keyFor('default');
  // As `npm run dev` serves it: the dev key is handed to pages on this machine.
  devBase = await env.start({
    agent: 'concierge',
    pages: { devKey: { key, tenant: 'default' }, temporalUiUrl: 'http://127.0.0.1:8233' },
  });
  // As a deployment serves it: the person types a key.
  plainBase = await env.start({ agent: 'concierge' });
  cashierBase = await env.start({ agent: 'cashier' });
  browser = await launchBrowser();
  if (screenshots) mkdirSync(shotDir, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await env?.stop();
  await emulator?.close();
});
beforeEach(() => emulator.faults.clear());

/**
 * A TCP proxy in front of an API: `cut()` drops every connection through it, as a lost network
 * does, so the page has to notice and reconnect by itself.
 */
async function cuttableProxy(target: string): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * A page that records every URL it requests (to prove no key ever lands in one) and every script
 * error (a blocked script or a thrown error fails the test when the page is done).
 */
async function openPage(url: string): Promise<{ page: Page; urls: string[]; done(): Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  await page.goto(url);
  return {
    page,
    urls,
    async done() {
      expect(errors).toEqual([]);
      await context.close();
    },
  };
}

/** The page reacts to a turn that runs on a loaded machine: wait as long as a turn may take. */
const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 30_000, interval: 100 });

async function shot(page: Page, name: string) {
  if (screenshots) await page.screenshot({ path: new URL(`${name}.png`, shotDir).pathname });
}

/** A long message: the emulator's answer quotes it, so the answer streams in many pieces. */
const long = (token: string) =>
  `Tell me slowly, ${token}, about ${'rivers and streams and the wide grey sea, '.repeat(10)}and then stop.`;

/** The streaming bubble's text at one instant (null when no answer is streaming). */
const STREAMING = `document.querySelector('.msg.assistant.streaming .bubble')?.textContent ?? null`;
const streamingText = (page: Page) => page.evaluate<string | null>(STREAMING);

/** The conversation's last answer as the transcript recorded it. */
async function recordedReply(base: string, id: string): Promise<string> {
  const page = await json(
    await request('GET', `${base}/v1/conversations/web/${id}/items?order=desc&limit=20`, key),
  );
  const msg = page.data.find(
    (i: { item: { type: string; role: string } }) => i.item.type === 'message' && i.item.role === 'assistant',
  );
  return msg.item.content.map((p: { text: string }) => p.text).join('');
}

/** Sends a message from the chat in a new conversation; returns the conversation's id. */
async function sendFromChat(page: Page, text: string): Promise<string> {
  await page.locator('#text').waitFor();
  await page.click('#new');
  const id = (await page.textContent('#title'))!;
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  return id;
}

/**
 * Reads the streaming bubble every 20 ms until the recorded reply replaces it: every distinct text
 * the person saw while the answer streamed, in order.
 */
async function watchStream(page: Page): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    // One read of the page (a string: this file has no DOM types), so both facts are of one instant.
    const { text, final } = await page.evaluate<{ text: string | null; final: boolean }>(
      `({ text: ${STREAMING}, final: document.querySelector('.msg.assistant:not(.streaming)') !== null })`,
    );
    if (text !== null && text !== seen.at(-1)) seen.push(text);
    if (final) return seen;
    await page.waitForTimeout(20);
  }
  throw new Error(`no reply within 30 s; saw ${JSON.stringify(seen.slice(-3))}`);
}

describe('the web chat (/)', () => {
  it('signs in with the dev key, sends a message, shows the tool call and then the reply', async () => {
    const { page, urls, done } = await openPage(`${devBase}/`);
    await page.locator('#text').waitFor();
    await page.fill(
      '#text',
      'Is there a table? call check_availability {"date":"2026-12-24","party_size":2}',
    );
    await page.press('#text', 'Enter');
    await page.locator('.msg.user .bubble', { hasText: 'check_availability' }).waitFor();
    // The tool call appears as a card with its name, and says when it is done.
    const card = page.locator('.tool', { hasText: 'check_availability' });
    await card.waitFor();
    await eventually(() => card.locator('.tool-status').textContent()).toBe('done');
    await card.locator('summary').click();
    expect(await card.locator('.tool-output').textContent()).toMatch(/\S/);
    const reply = page.locator('.msg.assistant .bubble').last();
    await reply.waitFor();
    expect((await reply.textContent())?.length).toBeGreaterThan(0);
    await eventually(() => page.locator('.typing').count()).toBe(0);
    await shot(page, 'chat');
    expect(urls.some((u) => u.includes(key))).toBe(false);
    await done();
  });

  it('asks for a key when none is handed out, and keeps it out of every URL', async () => {
    const { page, urls, done } = await openPage(`${plainBase}/`);
    await page.locator('#signin').waitFor();
    await page.fill('#key', 'not-a-key');
    await page.click('#signin button[type=submit]');
    await eventually(() => page.textContent('#signin-error')).toMatch(/key/i);
    await page.fill('#key', key);
    await page.click('#signin button[type=submit]');
    await page.locator('#text').waitFor();
    await page.fill('#text', 'hello there');
    await page.click('#send');
    await page.locator('.msg.assistant .bubble').first().waitFor();
    expect(urls.some((u) => u.includes(key) || u.includes('not-a-key'))).toBe(false);
    await done();
  });

  it('shows the answer as it streams, then the recorded reply in the same bubble', async () => {
    const token = randomUUID();
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 30, match: { bodyIncludes: token } });
    const { page, done } = await openPage(`${devBase}/`);
    const id = await sendFromChat(page, long(token));
    const seen = await watchStream(page);
    const reply = await recordedReply(devBase, id);
    // The person saw the answer grow, piece by piece, each view a beginning of the answer.
    expect(seen.length).toBeGreaterThan(2);
    for (const text of seen) expect(reply.startsWith(text), text).toBe(true);
    expect(seen[0]!.length).toBeLessThan(reply.length);
    // The reply took the streamed bubble's place: one answer, not two.
    const answers = page.locator('.msg.assistant');
    expect(await answers.count()).toBe(1);
    expect(await answers.locator('.bubble').textContent()).toBe(reply);
    await done();
  });

  it('a stream cut halfway: the retry replaces the partial answer, never glued to it', async () => {
    const token = randomUUID();
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 30, times: 2, match: { bodyIncludes: token } });
    emulator.faults.add({ kind: 'cut_stream', afterEvents: 14, match: { bodyIncludes: token } });
    const { page, done } = await openPage(`${devBase}/`);
    const id = await sendFromChat(page, long(token));
    const seen = await watchStream(page);
    const reply = await recordedReply(devBase, id);
    // Had the retry's text been appended to the cut attempt's, some view would not begin the answer.
    expect(seen.length).toBeGreaterThan(2);
    for (const text of seen) expect(reply.startsWith(text), text).toBe(true);
    // The text went back to a shorter beginning when the retry started: the partial answer was dropped.
    expect(seen.some((t, i) => i > 0 && t.length < seen[i - 1]!.length)).toBe(true);
    expect(await page.locator('.msg.assistant').count()).toBe(1);
    expect(await page.locator('.msg.assistant .bubble').textContent()).toBe(reply);
    await done();
  });

  it('reconnects mid-answer with Last-Event-ID when the connection drops: no gap, no repeat', async () => {
    const token = randomUUID();
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 60, match: { bodyIncludes: token } });
    const proxy = await cuttableProxy(devBase);
    const { page, done } = await openPage(`${proxy.url}/`);
    const resumedFrom: string[] = [];
    page.on('request', (r) => {
      const lastId = r.headers()['last-event-id'];
      if (r.url().endsWith('/events') && lastId) resumedFrom.push(lastId);
    });
    const id = await sendFromChat(page, long(token));
    await eventually(async () => (await streamingText(page))?.length ?? 0).toBeGreaterThan(0);
    proxy.cut();
    await eventually(() => page.textContent('#connection')).toBe('reconnecting');
    await eventually(() => resumedFrom.length).toBeGreaterThan(0);
    // Mid-answer: the resumed stream is still streaming, and carries on from where it was.
    expect(resumedFrom[0]).toMatch(/^\d+-\d+-\d+\.\d+\.\d+\.\d+$/);
    const seen = await watchStream(page);
    const reply = await recordedReply(devBase, id);
    // A gap or a repeat would make some view of the streamed text not a beginning of the answer.
    expect(seen.length).toBeGreaterThan(1);
    for (const text of seen) expect(reply.startsWith(text), text).toBe(true);
    expect(seen.at(-1)!.length).toBeGreaterThan(seen[0]!.length);
    expect(await page.locator('.msg.assistant').count()).toBe(1);
    expect(await page.locator('.msg.assistant .bubble').textContent()).toBe(reply);
    expect(await page.textContent('#connection')).toBe('');
    await done();
    await proxy.close();
  });

  it('shows the whole transcript again after a reload, from the events stream', async () => {
    const { page, done } = await openPage(`${devBase}/`);
    await page.locator('#text').waitFor();
    await page.click('#new');
    const title = await page.textContent('#title');
    await page.fill('#text', 'first message');
    await page.press('#text', 'Enter');
    await page.locator('.msg.assistant').first().waitFor();
    await page.fill('#text', 'second message');
    await page.press('#text', 'Enter');
    await eventually(() => page.locator('.msg.assistant').count()).toBe(2);
    await page.reload();
    await page.locator(`#conversations button[data-id="${title}"]`).click();
    await eventually(() => page.locator('.msg.user').count()).toBe(2);
    await eventually(() => page.locator('.msg.assistant').count()).toBe(2);
    await done();
  });
});

describe('the console (/console)', () => {
  it('lists 1,000 conversations a page at a time, filters them, and opens one with its transcript', async () => {
    // 1,000 conversations of another channel, as the store holds them after many turns.
    await env.db.pool.query(
      `INSERT INTO conversations (id, tenant, channel, external_id, agent, status, human_mode, updated_at)
       SELECT 'conversation:default:sms:c' || g, 'default', 'sms', 'c' || g, 'concierge',
              CASE WHEN g % 10 = 0 THEN 'closed' ELSE 'active' END, g % 50 = 0, now() - g * interval '1 second'
         FROM generate_series(1, 1000) g`,
    );
    const id = randomUUID();
    const conv = `${plainBase}/v1/conversations/web/${id}`;
    await request('POST', `${conv}/messages?wait=true`, key, {
      text: 'please call check_availability {"date":"2026-12-24","party_size":4}',
    });

    const { page, urls, done } = await openPage(`${plainBase}/console`);
    await page.fill('#key', ADMIN_KEY);
    await page.fill('#tenant', 'default');
    const signedIn = Date.now();
    await page.click('#signin button[type=submit]');
    await eventually(() => page.locator('#rows tr').count()).toBe(100);
    const firstPageMs = Date.now() - signedIn;
    console.info(`console: first page of 100 (of 1,000+) shown ${firstPageMs} ms after sign-in`);
    expect(firstPageMs).toBeLessThan(10_000);
    await page.click('#more');
    await eventually(() => page.locator('#rows tr').count()).toBe(200);

    await page.fill('#filter-channel', 'web');
    await page.press('#filter-channel', 'Enter');
    await eventually(() => page.locator('#rows tr').count()).toBeLessThan(20);
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    await page.locator('.tool .tool-name', { hasText: 'check_availability' }).waitFor();
    await page.locator('.msg.assistant .bubble').first().waitFor();
    await eventually(() => page.textContent('#state')).toContain('concierge');
    // The model calls panel: both steps of the turn (the tool round and the answer), with their ids.
    const state = await json(await request('GET', conv, key));
    await page.click('#model-calls-panel summary');
    await eventually(() => page.locator('#model-calls tr').count()).toBe(2);
    expect(await page.locator('#model-calls tr').last().textContent()).toContain(state.lastResponseId);
    expect(await page.locator('#model-calls tr').first().textContent()).toMatch(/^1\.1concierge/);

    await page.fill('#filter-channel', 'sms');
    await page.selectOption('#filter-status', 'closed');
    await eventually(() => page.locator('#rows tr').count()).toBe(100);
    expect(await page.locator('#rows .status.active').count()).toBe(0);
    // Human mode: every 50th of the 1,000, the closed ones among them too.
    await page.selectOption('#filter-status', '');
    await page.selectOption('#filter-human', 'true');
    await eventually(() => page.locator('#rows tr').count()).toBe(20);
    expect(await page.locator('#rows .badge.human').count()).toBe(20);
    // Failed turns: none of the seeded conversations has one.
    await page.check('#filter-failed');
    await eventually(() => page.textContent('#count')).toBe('0 shown');
    expect(urls.some((u) => u.includes(ADMIN_KEY))).toBe(false);
    await done();
  });

  it('approves a pending tool call: who and why are recorded, the tool runs once, the customer gets the answer', async () => {
    const id = randomUUID();
    const conv = `${cashierBase}/v1/conversations/web/${id}`;
    const ran = refunds;
    expect(
      (await request('POST', `${conv}/messages`, key, { text: 'call refund {"amount": 30}' })).status,
    ).toBe(202);
    await eventually(async () => (await json(await request('GET', conv, key))).pendingApprovals?.length).toBe(
      1,
    );

    const { page, done } = await openPage(`${cashierBase}/console`);
    await page.fill('#key', key);
    await page.click('#signin button[type=submit]');
    await page.check('#filter-approvals');
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    const card = page.locator('.approval', { hasText: 'refund' });
    await card.waitFor();
    expect(await card.locator('pre').textContent()).toContain('"amount":30');
    const call = page.locator('.tool', { hasText: 'refund' });
    await eventually(() => call.locator('.tool-status').textContent()).toBe('waiting for approval');
    expect(refunds).toBe(ran);
    await page.click('#model-calls-panel summary');
    await shot(page, 'console');

    // No name, no decision: the console asks who acts.
    await card.locator('button.approve').click();
    expect(await page.textContent('#action-result')).toMatch(/Operator/);
    await page.fill('#operator', 'alice@example.test');
    await card.locator('input.reason').fill('receipt checked');
    await card.locator('button.approve').click();
    await eventually(() => page.locator('.approval').count()).toBe(0);
    await eventually(() => call.locator('.tool-status').textContent()).toBe('done');
    expect(await call.locator('.tool-output').textContent()).toContain('refunded 30 EUR');
    await page.locator('.msg.assistant .bubble').first().waitFor();
    expect(refunds).toBe(ran + 1);
    const approvals = await json(await request('GET', `${conv}/approvals`, key));
    expect(approvals.data).toEqual([
      expect.objectContaining({
        status: 'approved',
        decidedBy: 'alice@example.test',
        reason: 'receipt checked',
      }),
    ]);
    expect(await page.locator('.msg.assistant .bubble').first().textContent()).toBe(
      await recordedReply(cashierBase, id),
    );
    await done();
  });

  it('rejects a pending tool call: it is not run, and the model is told why', async () => {
    const id = randomUUID();
    const conv = `${cashierBase}/v1/conversations/web/${id}`;
    const ran = refunds;
    await request('POST', `${conv}/messages`, key, { text: 'call refund {"amount": 9999}' });
    await eventually(async () => (await json(await request('GET', conv, key))).pendingApprovals?.length).toBe(
      1,
    );
    const { page, done } = await openPage(`${cashierBase}/console`);
    await page.fill('#key', key);
    await page.click('#signin button[type=submit]');
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    const card = page.locator('.approval', { hasText: 'refund' });
    await page.fill('#operator', 'carol');
    await card.locator('input.reason').fill('over the limit');
    await card.locator('button.reject').click();
    await eventually(() => page.locator('.approval').count()).toBe(0);
    const call = page.locator('.tool', { hasText: 'refund' });
    await eventually(() => call.locator('.tool-output').textContent()).toContain(
      'The operator rejected this call: over the limit',
    );
    await page.locator('.msg.assistant .bubble').first().waitFor();
    expect(refunds).toBe(ran);
    const approvals = await json(await request('GET', `${conv}/approvals`, key));
    expect(approvals.data[0]).toMatchObject({
      status: 'rejected',
      decidedBy: 'carol',
      reason: 'over the limit',
    });
    await done();
  });

  it('takes a conversation over, replies as the operator, hands it back: the agent answers again', async () => {
    const id = randomUUID();
    const conv = `${plainBase}/v1/conversations/web/${id}`;
    await request('POST', `${conv}/messages?wait=true`, key, { text: 'I would like to talk to a person' });
    const { page, done } = await openPage(`${plainBase}/console`);
    await page.fill('#key', key);
    await page.click('#signin button[type=submit]');
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    await page.locator('.msg.assistant').first().waitFor();
    expect(await page.locator('#operator-composer').isVisible()).toBe(false);

    await page.fill('#operator', 'bob');
    await page.click('#takeover');
    await page.locator('#human-banner', { hasText: 'bob' }).waitFor();
    const waiting = await json(
      await request('POST', `${conv}/messages?wait=true`, key, { text: 'are you there?' }),
    );
    expect(waiting.reply.status).toBe('human');
    await page.locator('.msg.user .bubble', { hasText: 'are you there?' }).waitFor();
    await page.fill('#operator-text', 'Yes, Bob here: your table for four is booked.');
    await page.click('#operator-send');
    const mine = page.locator('.msg.assistant.operator');
    await mine.waitFor();
    expect(await mine.locator('.bubble').textContent()).toBe('Yes, Bob here: your table for four is booked.');
    expect(await mine.locator('.meta').textContent()).toContain('operator bob');
    expect(await page.locator('.msg.assistant').count()).toBe(2);
    // The reply went through the delivery ledger like the agent's (this test has no web sender).
    await page.click('#deliveries-panel summary');
    await eventually(() => page.locator('#deliveries tr').count()).toBe(2);

    await page.click('#handback');
    await eventually(() => page.locator('#takeover').isVisible()).toBe(true);
    expect(await page.locator('#human-banner').isVisible()).toBe(false);
    const back = await json(await request('POST', `${conv}/messages?wait=true`, key, { text: 'thank you' }));
    expect(back.reply.status).toBe('answered');
    await eventually(() => page.locator('.msg.assistant:not(.operator)').count()).toBe(2);
    expect(await page.locator('.msg.assistant:not(.operator) .bubble').last().textContent()).toBe(
      back.reply.text,
    );
    const state = await json(await request('GET', conv, key));
    expect(state.humanMode).toBeNull();
    await done();
  });

  it('resets a conversation: the next message starts a new transcript segment', async () => {
    const id = randomUUID();
    const conv = `${plainBase}/v1/conversations/web/${id}`;
    await request('POST', `${conv}/messages?wait=true`, key, { text: 'remember me' });
    const { page, done } = await openPage(`${plainBase}/console`);
    await page.fill('#key', key);
    await page.click('#signin button[type=submit]');
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    await page.locator('.msg.assistant').first().waitFor();
    await page.click('#reset');
    await eventually(() => page.textContent('#action-result')).toContain('Reset requested');
    await request('POST', `${conv}/messages?wait=true`, key, { text: 'after the reset' });
    const state = await json(await request('GET', conv, key));
    expect(state.segment).toBe(1);
    await done();
  });
});
