import { ApplicationFailure, ServiceError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/errors.js';
import { sendAndWait } from '../../src/api/routes/messages.js';
import { neverTaken } from '../../src/api/untakenUpdates.js';
import type { TurnReply } from '../../src/workflows/messages.js';

/**
 * An update the server handed to a workflow task that then failed (the run's idle-timeout
 * completion refused because messages arrived) is aborted with a non-retryable error: "Unable to
 * perform workflow execution update due to unexpected workflow task failure." The workflow never
 * accepted it, so the API sends it again under the same id instead of failing the caller (found by
 * the schedules drill: test/fixtures/known-issues/update-aborted-when-idle-completion-is-refused.json).
 */
const ABORTED = 'Unable to perform workflow execution update due to unexpected workflow task failure.';
const reply: TurnReply = { messageId: 'm1', status: 'answered', turn: 1, text: 'hi', responseId: 'resp_1' };
const input = { tenant: 't', channel: 'web', externalId: 'e1', agent: 'a' };
const message = { id: 'm1', text: 'hello', receivedAt: new Date(0).toISOString() };

/**
 * The server also rejects an update whose workflow task completed without an answer to it (seen in
 * the schedules drill around worker restarts, seed 314536785 index 185): not accepted either.
 */
const unprocessed = () =>
  new WorkflowUpdateFailedError(
    'Workflow Update failed',
    ApplicationFailure.create({
      message:
        "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker.",
    }),
  );
const aborted = () => Object.assign(new Error(ABORTED), { code: 9 });

/** A client whose update-with-start fails with `failures` errors first, then is accepted. */
function stubClient(failures: number, error: () => Error = aborted) {
  const calls: unknown[] = [];
  const client = {
    workflow: {
      startUpdateWithStart: (_update: unknown, options: { args: unknown[] }) => {
        calls.push(options.args[0]);
        if (calls.length <= failures) return Promise.reject(error());
        return Promise.resolve({ result: () => Promise.resolve(reply) });
      },
    },
  } as unknown as Client;
  return { client, calls };
}

describe('an update aborted with its workflow task', () => {
  it('is sent again under the same message id and answered', async () => {
    const { client, calls } = stubClient(1);
    await expect(sendAndWait({ client, taskQueue: 'q' }, input, message)).resolves.toEqual(reply);
    expect(calls).toEqual([message, message]);
  });

  it('rejected as not processed by the worker, is sent again and answered', async () => {
    const { client, calls } = stubClient(2, unprocessed);
    await expect(sendAndWait({ client, taskQueue: 'q' }, input, message)).resolves.toEqual(reply);
    expect(calls).toEqual([message, message, message]);
  });

  it('aborted every time, the caller gets 503 message_not_taken to retry with the same id', async () => {
    const { client, calls } = stubClient(100);
    const err = await sendAndWait({ client, taskQueue: 'q' }, input, message).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, code: 'message_not_taken' });
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.length).toBeLessThanOrEqual(5);
  });

  it("a rejection that comes back as the update's outcome is not taken: sent again, and acceptance is told once", async () => {
    // The server answers the hand-over with a finished update whose outcome is the rejection: the
    // SDK gives a handle, and only its result() fails. Such a message was never accepted.
    const calls: unknown[] = [];
    const client = {
      workflow: {
        startUpdateWithStart: (_update: unknown, options: { args: unknown[] }) => {
          calls.push(options.args[0]);
          const rejected = calls.length === 1;
          return Promise.resolve({
            result: () => (rejected ? Promise.reject(unprocessed()) : Promise.resolve(reply)),
          });
        },
      },
    } as unknown as Client;
    let accepted = 0;
    const answer = await sendAndWait({ client, taskQueue: 'q' }, input, message, {
      onAccepted: () => (accepted += 1),
    });
    expect(answer).toEqual(reply);
    expect(calls).toHaveLength(2);
    expect(accepted).toBe(1);
  });

  it('recognises an abort the SDK wrapped (a plain executeUpdate gives ServiceError with the server error as cause)', () => {
    const grpc = Object.assign(new Error(`9 FAILED_PRECONDITION: ${ABORTED}`), { code: 9, details: ABORTED });
    expect(neverTaken(new ServiceError('Workflow Update failed', { cause: grpc }))).toBe(true);
    expect(neverTaken(new ServiceError('Workflow Update failed', { cause: new Error('boom') }))).toBe(false);
  });
});
