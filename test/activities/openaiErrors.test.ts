import { describe, expect, it } from 'vitest';
import {
  classify,
  isConversationBroken,
  isConversationGone,
  isPreviousResponseGone,
  retryAfterMs,
  withJitter,
  type ErrorFacts,
} from '../../src/activities/openaiErrors.js';

const facts = (f: Partial<ErrorFacts>): ErrorFacts => ({
  status: 400,
  code: null,
  param: null,
  message: 'x',
  retryAfterMs: null,
  requestId: null,
  ...f,
});

describe('classify', () => {
  it.each([
    ['connection error', { status: null }, true, 'OpenAIConnectionError'],
    ['408 timeout', { status: 408 }, true, 'OpenAI408'],
    ['409 conflict', { status: 409 }, true, 'OpenAI409'],
    ['429 rate limit', { status: 429, code: 'rate_limit_exceeded' }, true, 'OpenAIRateLimited'],
    ['429 insufficient_quota', { status: 429, code: 'insufficient_quota' }, false, 'OpenAIQuotaExceeded'],
    [
      '429 credit_balance_exhausted',
      { status: 429, code: 'credit_balance_exhausted' },
      false,
      'OpenAIQuotaExceeded',
    ],
    ['500', { status: 500 }, true, 'OpenAI500'],
    ['503', { status: 503 }, true, 'OpenAI503'],
    ['400 invalid request', { status: 400, code: 'invalid_value' }, false, 'OpenAI400'],
    ['401 bad key', { status: 401 }, false, 'OpenAI401'],
    ['403', { status: 403 }, false, 'OpenAI403'],
    ['404', { status: 404 }, false, 'OpenAI404'],
    ['422', { status: 422 }, false, 'OpenAI422'],
  ] as const)('%s', (_name, f, retryable, type) => {
    expect(classify(facts(f))).toMatchObject({ retryable, type });
  });

  it('passes the server-requested delay on as the next retry delay, only when retrying', () => {
    expect(classify(facts({ status: 429, retryAfterMs: 1500 })).nextRetryDelayMs).toBe(1500);
    expect(classify(facts({ status: 400, retryAfterMs: 1500 })).nextRetryDelayMs).toBeNull();
  });
});

describe('retryAfterMs', () => {
  const h = (init: Record<string, string>) => new Headers(init);
  it('prefers retry-after-ms, then retry-after seconds, then an HTTP date', () => {
    expect(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '3' }))).toBe(250);
    expect(retryAfterMs(h({ 'retry-after': '3' }))).toBe(3000);
    expect(
      retryAfterMs(h({ 'retry-after': 'Sat, 21 Nov 2026 20:00:05 GMT' }), Date.parse('2026-11-21T20:00:00Z')),
    ).toBe(5000);
    expect(retryAfterMs(h({}))).toBeNull();
    expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeNull();
  });
});

describe('isPreviousResponseGone', () => {
  const prev = 'resp_abc';
  it.each([
    [
      'the live 400',
      facts({
        code: 'previous_response_not_found',
        param: 'previous_response_id',
        message: "Previous response with id 'resp_abc' not found.",
      }),
    ],
    [
      "a proxy's Invalid 'previous_response_id'",
      facts({ code: 'invalid_request_error', message: "Invalid 'previous_response_id'." }),
    ],
    ['an expired message', facts({ message: "Response with id 'resp_abc' has expired." })],
    ['a 404 on the response id', facts({ status: 404, message: "Response with id 'resp_abc' not found." })],
  ])('recognises %s', (_name, f) => {
    expect(isPreviousResponseGone(f, prev)).toBe(true);
  });

  it.each([
    ['without a previous response', facts({ code: 'previous_response_not_found' }), null],
    ['another 400', facts({ code: 'invalid_value', message: "Invalid 'input'." }), prev],
    ['a 404 about something else', facts({ status: 404, message: "Model 'gpt-x' not found." }), prev],
    ['a 500', facts({ status: 500, message: 'server error' }), prev],
  ])('does not misfire on %s', (_name, f, p) => {
    expect(isPreviousResponseGone(f, p)).toBe(false);
  });
});

describe('isConversationGone', () => {
  it('is a 404 about the conversation', () => {
    expect(
      isConversationGone(
        facts({ status: 404, message: "Conversation with id 'conv_1' not found." }),
        'conv_1',
      ),
    ).toBe(true);
    expect(
      isConversationGone(
        facts({ status: 400, message: "Conversation with id 'conv_1' not found." }),
        'conv_1',
      ),
    ).toBe(false);
    expect(isConversationGone(facts({ status: 404, message: 'x' }), null)).toBe(false);
  });
});

describe('withJitter', () => {
  it('never retries before Retry-After, and spreads by up to 25% (at most a second)', () => {
    expect(withJitter(1_000, () => 0)).toBe(1_000);
    expect(withJitter(1_000, () => 1)).toBe(1_250);
    expect(withJitter(20_000, () => 1)).toBe(21_000);
    for (let i = 0; i < 100; i++) {
      const d = withJitter(400);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(500);
    }
  });
});

describe('isConversationBroken', () => {
  it.each([
    ['the live 400', facts({ message: 'No tool output found for function call call_x.' }), true],
    ['another 400', facts({ message: "Invalid 'input'." }), false],
    [
      'a 500 mentioning it',
      facts({ status: 500, message: 'No tool output found for function call c' }),
      false,
    ],
  ] as const)('%s', (_name, f, broken) => {
    expect(isConversationBroken(f)).toBe(broken);
  });
});
