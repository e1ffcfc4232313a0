import { z } from 'zod';
import type { ChannelsConfig, WhatsAppNumber } from '../config.js';

/**
 * `channels` in threadline.config.ts: which WhatsApp numbers and signed-webhook channels a
 * deployment serves, and which tenant (and agent) each belongs to. Never secrets: the app secret,
 * verify token, access tokens and the webhook secret stay in the environment, so the config file
 * can be committed. Pure; context: Node (the CLI and the config file).
 */

/** Fields that hold secrets, and where each belongs instead. */
const SECRET_FIELDS: Record<string, string> = {
  accessToken: 'WHATSAPP_ACCESS_TOKEN (or the entry in WHATSAPP_NUMBERS)',
  appSecret: 'WHATSAPP_APP_SECRET',
  verifyToken: 'WHATSAPP_VERIFY_TOKEN',
  secret: 'WEBHOOK_SECRET',
};

const secretKeys = (keys: string[]) => keys.filter((k) => k in SECRET_FIELDS);

/** Strict objects whose unknown-key message says where a secret goes, and the fields otherwise. */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  const fields = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const secret = secretKeys(issue.keys)[0];
      return secret
        ? `is a secret: set ${SECRET_FIELDS[secret]} in the environment, not in the config file`
        : `is not a field here (the fields are ${fields})`;
    },
  });
}

const tenant = z
  .string({ message: 'is required: the tenant that owns it, like "acme"' })
  .trim()
  .min(1, { message: 'is required: the tenant that owns it, like "acme"' })
  .max(256);

const agentName = z
  .string()
  .regex(/^[\w.-]{1,64}$/, { message: 'must be an agent name (1-64 letters, digits, "_", "-" or ".")' });

const whatsappNumber = strictObject({
  phoneNumberId: z
    .string({ message: 'is required: the numeric phone number id from Meta (not the phone number)' })
    .regex(/^\d{1,32}$/, { message: 'must be the numeric phone number id from Meta (not the phone number)' }),
  tenant,
  agent: agentName.optional(),
});

const channelName = z
  .string()
  .trim()
  .min(1)
  .max(256)
  .refine((c) => c !== 'whatsapp', { message: 'must not be whatsapp: it has its own webhook' });

export const channelsSchema = strictObject({
  whatsapp: strictObject({
    numbers: z
      .array(whatsappNumber, { message: 'is required: a list of { phoneNumberId, tenant, agent }' })
      .min(1, { message: 'must list at least one number' }),
  }).optional(),
  webhook: strictObject({
    channels: z
      .array(channelName, {
        message: 'is required: the channel names the signed webhook serves, e.g. ["sms"]',
      })
      .min(1, { message: 'must name at least one channel, e.g. ["sms"]' }),
    tenant: tenant.optional(),
  }).optional(),
});

export type ChannelsInput = z.input<typeof channelsSchema>;
export type ProjectChannels = z.output<typeof channelsSchema>;

/** Problems within the config file's `channels` alone: repeated numbers, agents it does not define. */
export function channelProblems(
  channels: ProjectChannels,
  agents: readonly string[],
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const numbers = channels.whatsapp?.numbers ?? [];
  numbers.forEach((n, i) => {
    const at = ['channels', 'whatsapp', 'numbers', i];
    if (numbers.findIndex((m) => m.phoneNumberId === n.phoneNumberId) !== i)
      problems.push({
        path: [...at, 'phoneNumberId'],
        message: `${n.phoneNumberId} is listed twice: one entry per number`,
      });
    if (n.agent !== undefined && !agents.includes(n.agent))
      problems.push({
        path: [...at, 'agent'],
        message: `"${n.agent}" is not one of the agents (${agents.join(', ')}): name one of them or leave it out`,
      });
  });
  const names = channels.webhook?.channels ?? [];
  names.forEach((c, i) => {
    if (names.indexOf(c) !== i)
      problems.push({ path: ['channels', 'webhook', 'channels', i], message: `"${c}" is listed twice` });
  });
  return problems;
}

/** The environment's channel settings, as far as a merge needs them. */
export interface EnvChannels {
  channels: ChannelsConfig;
  /** Raw variables: whether WEBHOOK_TENANT was set at all (its parsed value has a default). */
  env: Record<string, string | undefined>;
}

/**
 * The deployment's channels: the environment's (secrets, and any numbers WHATSAPP_NUMBERS lists)
 * together with the config file's. Neither side silently wins. A number declared in both must name
 * the same tenant and agent (the environment may add only its access token): which tenant owns a
 * number decides whose customers reach whom, so a disagreement stops the start rather than picking
 * one. Numbers either side alone declares are all served. The webhook's channels are the union; its
 * tenant is the config file's unless WEBHOOK_TENANT says otherwise (then it is a conflict).
 * `agents` are the project's: an environment number naming another agent is refused too.
 */
export function mergeChannels(
  envSide: EnvChannels,
  project: ProjectChannels | undefined,
  agents: readonly string[],
  source = 'threadline.config.ts',
): { channels: ChannelsConfig; problems: string[] } {
  const { channels, env } = envSide;
  const problems: string[] = [];
  let whatsapp = channels.whatsapp;
  const envNumbers = whatsapp ? (whatsapp.numbers ?? singleNumber(whatsapp)) : [];
  envNumbers.forEach((n) => {
    if (n.agent !== undefined && !agents.includes(n.agent))
      problems.push(
        `WHATSAPP_NUMBERS names the agent "${n.agent}" for ${n.phoneNumberId}, which ${source} does not define (${agents.join(', ')})`,
      );
  });

  const declared = project?.whatsapp?.numbers;
  if (declared) {
    if (!whatsapp) {
      problems.push(
        `${source}: channels.whatsapp needs WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN in the environment (secrets stay out of the config file)`,
      );
    } else {
      const numbers: WhatsAppNumber[] = [];
      declared.forEach((n, i) => {
        const fromEnv = envNumbers.find((e) => e.phoneNumberId === n.phoneNumberId);
        const where = `${source}: channels.whatsapp.numbers[${i}]`;
        if (fromEnv && fromEnv.tenant !== n.tenant)
          problems.push(
            `${where} gives ${n.phoneNumberId} to the tenant "${n.tenant}", the environment (WHATSAPP_NUMBERS or WHATSAPP_PHONE_NUMBER_ID with WHATSAPP_TENANT) to "${fromEnv.tenant}": declare its tenant in one place`,
          );
        if (fromEnv?.agent !== undefined && fromEnv.agent !== n.agent)
          problems.push(
            `${where} gives ${n.phoneNumberId} the agent ${n.agent ? `"${n.agent}"` : '(routed)'}, WHATSAPP_NUMBERS "${fromEnv.agent}": declare its agent in one place`,
          );
        const accessToken = fromEnv?.accessToken;
        numbers.push({
          phoneNumberId: n.phoneNumberId,
          tenant: n.tenant,
          ...(n.agent !== undefined ? { agent: n.agent } : {}),
          ...(accessToken ? { accessToken } : {}),
        });
      });
      for (const n of envNumbers)
        if (!numbers.some((m) => m.phoneNumberId === n.phoneNumberId)) numbers.push(n);
      whatsapp = { ...whatsapp, numbers };
    }
  }

  let webhook = channels.webhook;
  const hook = project?.webhook;
  if (hook) {
    if (!webhook) {
      problems.push(
        `${source}: channels.webhook needs WEBHOOK_SECRET in the environment (it signs both directions; secrets stay out of the config file)`,
      );
    } else {
      const envTenant = env.WEBHOOK_TENANT?.trim() || undefined;
      if (hook.tenant !== undefined && envTenant !== undefined && envTenant !== hook.tenant)
        problems.push(
          `${source}: channels.webhook.tenant is "${hook.tenant}", WEBHOOK_TENANT "${envTenant}": set the tenant in one place`,
        );
      webhook = {
        ...webhook,
        channels: [...new Set([...webhook.channels, ...hook.channels])],
        tenant: hook.tenant ?? webhook.tenant,
      };
    }
  }
  return { channels: { whatsapp, webhook }, problems };
}

function singleNumber(wa: NonNullable<ChannelsConfig['whatsapp']>): WhatsAppNumber[] {
  return wa.phoneNumberId ? [{ phoneNumberId: wa.phoneNumberId, tenant: wa.tenant }] : [];
}
