/**
 * What the emulator knows about a model name: its family (which decides reasoning items and the
 * parameters it refuses) and its context window. Defaults follow OpenAI's model pages; tests make
 * windows small (and reasoning costs explicit) with overrides instead of huge inputs.
 */

export type ModelFamily = 'reasoning' | 'chat';

export interface ModelProfile {
  family: ModelFamily;
  /** The input the model accepts, in the emulator's token estimate (docs/emulator.md, Usage). */
  contextWindowTokens: number;
  /**
   * Reasoning models only: a fixed reasoning cost per response, replacing the effort-based
   * formula (docs/emulator.md). Lets a test force `incomplete` with a given `max_output_tokens`.
   */
  reasoningTokens?: number;
  /**
   * Reasoning models only: whether responses carry `reasoning` items (and spend reasoning tokens).
   * Off, a reasoning model answers as a chat model does (message only, reasoning_tokens 0).
   */
  reasoningItems: boolean;
}

/**
 * The live API always emits reasoning items for reasoning models, so the emulator does too; turn
 * them off (option `reasoningItems: false`, or per model) only to test a chat-like answer.
 */
export const DEFAULT_REASONING_ITEMS = true;

/**
 * Request parameters a family refuses with the live `unsupported_parameter` error (reported):
 * reasoning models take no sampling controls; chat models take no reasoning settings. Each entry
 * names the param as the error reports it.
 */
export const UNSUPPORTED_PARAMETERS: Readonly<Record<ModelFamily, readonly string[]>> = {
  reasoning: ['temperature', 'top_p', 'top_logprobs'],
  chat: ['reasoning.effort', 'reasoning.summary'],
};

export interface ModelOverride {
  contextWindowTokens?: number;
  reasoningTokens?: number;
  reasoningItems?: boolean;
}

interface FamilyRule {
  pattern: RegExp;
  family: ModelFamily;
  contextWindowTokens: number;
}

/** First match wins. Snapshots (`gpt-5-mini-2025-08-07`) match their base name's rule. */
export const MODEL_TABLE: readonly FamilyRule[] = [
  { pattern: /^gpt-5(\.\d+)?-chat/, family: 'chat', contextWindowTokens: 128_000 },
  { pattern: /^gpt-5/, family: 'reasoning', contextWindowTokens: 400_000 },
  { pattern: /^o\d/, family: 'reasoning', contextWindowTokens: 200_000 },
  { pattern: /^gpt-4\.1/, family: 'chat', contextWindowTokens: 1_047_576 },
  { pattern: /^gpt-4o/, family: 'chat', contextWindowTokens: 128_000 },
  { pattern: /^gpt-4-turbo/, family: 'chat', contextWindowTokens: 128_000 },
  { pattern: /^gpt-3\.5-turbo/, family: 'chat', contextWindowTokens: 16_385 },
];

/** Any other name (tests use `m`) is a chat model with a 128k window. */
export const DEFAULT_PROFILE = { family: 'chat', contextWindowTokens: 128_000 } as const;

/** Model overrides: from EmulatorOptions (kept across reset) and set at run time (dropped by reset). */
export class ModelRegistry {
  private runtime = new Map<string, ModelOverride>();

  constructor(
    private readonly configured: Readonly<Record<string, ModelOverride>> = {},
    private readonly reasoningItems = DEFAULT_REASONING_ITEMS,
  ) {}

  profile(model: string): ModelProfile {
    const rule = MODEL_TABLE.find((r) => r.pattern.test(model));
    const base: ModelProfile = {
      family: rule?.family ?? DEFAULT_PROFILE.family,
      contextWindowTokens: rule?.contextWindowTokens ?? DEFAULT_PROFILE.contextWindowTokens,
      reasoningItems: this.reasoningItems,
    };
    return { ...base, ...this.configured[model], ...this.runtime.get(model) };
  }

  /** Merges into the model's run-time override; `undefined` fields are left as they were. */
  set(model: string, override: ModelOverride): ModelProfile {
    const merged = { ...this.runtime.get(model) };
    for (const [key, value] of Object.entries(override)) {
      if (value !== undefined) Object.assign(merged, { [key]: value as unknown });
    }
    this.runtime.set(model, merged);
    return this.profile(model);
  }

  reset(): void {
    this.runtime.clear();
  }
}
