import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  checkSearchAttributes,
  MissingSearchAttributesError,
  searchAttributeProblems,
} from '../../src/temporal/searchAttributesCheck.js';

let connection: Connection;
beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => connection?.close());

describe('the search attributes check at start', () => {
  it("passes on a namespace that has Threadline's search attributes (the test dev server's)", async () => {
    await expect(checkSearchAttributes(connection, inject('temporalNamespace'))).resolves.toBeUndefined();
  });

  it('refuses a namespace without them, naming each attribute and the command that creates it', async () => {
    const namespace = `bare-${randomBytes(4).toString('hex')}`;
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    // A new namespace is known to the server's cache within seconds: wait until it answers.
    let err: unknown;
    await expect
      .poll(
        async () => {
          err = await checkSearchAttributes(connection, namespace).then(
            () => null,
            (e: unknown) => e,
          );
          return err instanceof MissingSearchAttributesError;
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(true);
    const message = (err as Error).message;
    expect(message).toContain(`The Temporal namespace "${namespace}" lacks Threadline's search attributes`);
    expect(message).toContain(
      `temporal operator search-attribute create --namespace ${namespace} --name ThreadlineHumanMode --type Bool`,
    );
    expect(message).toContain(`--name ThreadlineTenant --type Keyword`);
  });

  it('names an attribute that exists with another type', () => {
    expect(
      searchAttributeProblems({
        ThreadlineTenant: 2,
        ThreadlineChannel: 2,
        ThreadlineAgent: 2,
        ThreadlineStatus: 2,
        ThreadlineHumanMode: 2,
      }),
    ).toEqual([{ name: 'ThreadlineHumanMode', type: 'BOOL', found: 'KEYWORD' }]);
    expect(
      searchAttributeProblems({ ThreadlineHumanMode: 'INDEXED_VALUE_TYPE_BOOL' }, [
        { name: 'ThreadlineHumanMode', type: 'BOOL' },
      ]),
    ).toEqual([]);
  });
});
