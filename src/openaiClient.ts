import OpenAI from 'openai';

/**
 * The one place the OpenAI client is built. SDK retries are off: under Temporal the activity retry
 * policy decides, with the server's Retry-After as the next delay (see activities/model.ts).
 */
export function createOpenAIClient(options: {
  apiKey: string | undefined;
  baseUrl: string | undefined;
}): OpenAI {
  return new OpenAI({
    // The emulator accepts any key; the real API rejects a missing one with a clear 401.
    apiKey: options.apiKey ?? 'threadline-emulator',
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    maxRetries: 0,
    timeout: 90_000,
  });
}
