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
}

export interface ModelOverride {
  contextWindowTokens?: number;
  reasoningTokens?: number;
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
export const DEFAULT_PROFILE: ModelProfile = { family: 'chat', contextWindowTokens: 128_000 };

/** Model overrides: from EmulatorOptions (kept across reset) and set at run time (dropped by reset). */
export class ModelRegistry {
  private runtime = new Map<string, ModelOverride>();

  constructor(private readonly configured: Readonly<Record<string, ModelOverride>> = {}) {}

  profile(model: string): ModelProfile {
    const rule = MODEL_TABLE.find((r) => r.pattern.test(model));
    const base: ModelProfile = rule
      ? { family: rule.family, contextWindowTokens: rule.contextWindowTokens }
      : { ...DEFAULT_PROFILE };
    return { ...base, ...this.configured[model], ...this.runtime.get(model) };
  }

  /** Merges into the model's run-time override; `undefined` fields are left as they were. */
  set(model: string, override: ModelOverride): ModelProfile {
    const merged = { ...this.runtime.get(model) };
    for (const [key, value] of Object.entries(override) as [keyof ModelOverride, number | undefined][]) {
      if (value !== undefined) merged[key] = value;
    }
    this.runtime.set(model, merged);
    return this.profile(model);
  }

  reset(): void {
    this.runtime.clear();
  }
}
