import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { z } from 'zod';
import type { conversationWorkflow, ConversationInput } from '../../workflows/conversation.js';
import { conversationWorkflowId } from '../../workflows/ids.js';
import {
  messageSignal,
  sendMessageUpdate,
  type InboundMessage,
  type TurnReply,
} from '../../workflows/messages.js';

// No control characters in path ids: they end up in workflow ids and logs.
const pathId = z
  .string()
  .min(1)
  .max(256)
  .refine((v) => !/\p{Cc}/u.test(v), { message: 'must not contain control characters' });

const params = z.object({ channel: pathId, conversationId: pathId });

const body = z.object({
  id: z.string().min(1).max(256).optional(),
  text: z.string().trim().min(1, { message: 'must be a non-empty string' }).max(32_000),
  user: z.string().max(256).optional(),
  metadata: z.record(z.string().max(64), z.string().max(512)).optional(),
});

export interface MessagesDeps {
  client: Client;
  taskQueue: string;
  agent: string;
  replyWaitMs: number;
}

export function messagesRouter(deps: MessagesDeps): Router {
  const router = Router();

  router.post('/v1/conversations/:channel/:conversationId/messages', async (req, res) => {
    const { channel, conversationId } = params.parse(req.params);
    const input = body.parse(req.body);
    // Until API keys arrive (the API issue), every caller is the default tenant.
    const tenant = 'default';
    const workflowId = conversationWorkflowId({ tenant, channel, externalId: conversationId });
    const message: InboundMessage = {
      id: input.id ?? randomUUID(),
      text: input.text,
      receivedAt: new Date().toISOString(),
      ...(input.user ? { user: input.user } : {}),
      ...(input.metadata ? { metadata: input.metadata } : {}),
    };
    const workflowInput: ConversationInput = {
      tenant,
      channel,
      externalId: conversationId,
      agent: deps.agent,
    };

    if (req.query.wait !== 'true') {
      await deps.client.workflow.signalWithStart<typeof conversationWorkflow, [InboundMessage]>(
        'conversationWorkflow',
        {
          workflowId,
          taskQueue: deps.taskQueue,
          args: [workflowInput],
          signal: messageSignal,
          signalArgs: [message],
        },
      );
      res.status(202).json({ messageId: message.id, workflowId });
      return;
    }

    const startOp = new WithStartWorkflowOperation<typeof conversationWorkflow>('conversationWorkflow', {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [workflowInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    const reply = deps.client.workflow.executeUpdateWithStart(sendMessageUpdate, {
      args: [message],
      startWorkflowOperation: startOp,
    });
    const timedOut = Symbol('timeout');
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race<TurnReply | typeof timedOut>([
      reply,
      new Promise((resolve) => (timer = setTimeout(() => resolve(timedOut), deps.replyWaitMs))),
    ]).finally(() => clearTimeout(timer));
    if (result === timedOut) {
      // The message is accepted and will be answered; the caller looks for the reply later.
      reply.catch(() => {});
      res.status(202).json({ messageId: message.id, workflowId, status: 'pending' });
      return;
    }
    res.status(200).json({ messageId: message.id, workflowId, reply: result });
  });

  return router;
}
