/** The OpenAI error envelope and the exact messages the live API is reported to use. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (
  message: string,
  param: string | null = null,
  code: string | null = null,
): ApiError => new ApiError(400, message, 'invalid_request_error', param, code);

export const notFound = (message: string): ApiError =>
  new ApiError(404, message, 'invalid_request_error', null, null);

export const previousResponseNotFound = (id: string): ApiError =>
  invalidRequest(
    `Previous response with id '${id}' not found.`,
    'previous_response_id',
    'previous_response_not_found',
  );

export const responseNotFound = (id: string): ApiError => notFound(`Response with id '${id}' not found.`);

export const conversationNotFound = (id: string): ApiError =>
  notFound(`Conversation with id '${id}' not found.`);

export const missingApiKey = (): ApiError =>
  new ApiError(
    401,
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
    'invalid_request_error',
  );

export const unknownParameter = (name: string): ApiError =>
  invalidRequest(`Unrecognized request argument supplied: ${name}`, name, 'unknown_parameter');

export const missingParameter = (name: string): ApiError =>
  invalidRequest(`Missing required parameter: '${name}'.`, name, 'missing_required_parameter');

/** Live wording for a JSON value of the wrong type, e.g. `Invalid type for 'store': expected a boolean, but got a string instead.` */
export function invalidType(param: string, expected: string, got: unknown): ApiError {
  return invalidRequest(
    `Invalid type for '${param}': expected ${expected}, but got ${describeJsonType(got)} instead.`,
    param,
    'invalid_type',
  );
}

export function invalidValue(param: string, got: unknown, supported: readonly string[]): ApiError {
  const list = supported.map((s) => `'${s}'`);
  const joined =
    list.length > 1 ? `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}` : (list[0] ?? '');
  return invalidRequest(
    `Invalid value: '${String(got)}'. Supported values are: ${joined}.`,
    param,
    'invalid_value',
  );
}

export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return 'an object';
}

export const invalidJsonBody = (): ApiError =>
  invalidRequest(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
  );

/** Live wording (reported) for a reasoning or compaction item whose ciphertext is not the API's own. */
export const encryptedContentNotVerified = (itemId: string): ApiError =>
  invalidRequest(
    `The encrypted content for item ${itemId} could not be verified. Reason: Encrypted content could not be decrypted or parsed.`,
    null,
    'invalid_encrypted_content',
  );

/** Live wording (reported) for a reasoning item referenced by id that the API does not hold. */
export const itemNotPersisted = (itemId: string, param: string): ApiError =>
  invalidRequest(
    `Item with id '${itemId}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
    param,
  );

export const contextLengthExceeded = (): ApiError =>
  invalidRequest(
    'Your input exceeds the context window of this model. Please adjust your input and try again.',
    'input',
    'context_length_exceeded',
  );
