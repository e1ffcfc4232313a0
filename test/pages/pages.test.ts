import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';
import { launchBrowser } from '../support/browser.js';

/**
 * The web chat and the console, used as a person uses them: in headless Chromium, against a real
 * API, worker, Temporal and PostgreSQL. UPDATE_SCREENSHOTS=1 also writes docs/screenshots/*.png.
 */
let env: ApiEnv;
let browser: Browser;
let devBase: string;
let plainBase: string;
let key: string;
const screenshots = process.env.UPDATE_SCREENSHOTS === '1';
const shotDir = new URL('../../docs/screenshots/', import.meta.url);

beforeAll(async () => {
  env = await startApiEnv();
  key = await env.keyFor('default');
  // As `npm run dev` serves it: the dev key is handed to pages on this machine.
  devBase = await env.start({
    agent: 'concierge',
    pages: { devKey: { key, tenant: 'default' }, temporalUiUrl: 'http://127.0.0.1:8233' },
  });
  // As a deployment serves it: the person types a key.
  plainBase = await env.start({ agent: 'concierge' });
  browser = await launchBrowser();
  if (screenshots) mkdirSync(shotDir, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

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
      `INSERT INTO conversations (id, tenant, channel, external_id, agent, status, updated_at)
       SELECT 'conversation:default:sms:c' || g, 'default', 'sms', 'c' || g, 'concierge',
              CASE WHEN g % 10 = 0 THEN 'closed' ELSE 'active' END, now() - g * interval '1 second'
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
    await page.click('#signin button[type=submit]');
    await eventually(() => page.locator('#rows tr').count()).toBe(100);
    await page.click('#more');
    await eventually(() => page.locator('#rows tr').count()).toBe(200);

    await page.fill('#filter-channel', 'web');
    await page.press('#filter-channel', 'Enter');
    await eventually(() => page.locator('#rows tr').count()).toBeLessThan(10);
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    await page.locator('.tool .tool-name', { hasText: 'check_availability' }).waitFor();
    await page.locator('.msg.assistant .bubble').first().waitFor();
    await eventually(() => page.textContent('#state')).toContain('concierge');
    await shot(page, 'console');

    await page.fill('#filter-channel', 'sms');
    await page.selectOption('#filter-status', 'closed');
    await eventually(() => page.locator('#rows tr').count()).toBe(100);
    expect(await page.locator('#rows .status.active').count()).toBe(0);
    expect(urls.some((u) => u.includes(ADMIN_KEY))).toBe(false);
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
