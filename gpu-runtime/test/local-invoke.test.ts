import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLocalInvoke, type LocalInvokeServer } from '../src/local-invoke.js';

const received: unknown[] = [];
let server: LocalInvokeServer;
let lambda: LambdaClient;

beforeAll(async () => {
  server = await startLocalInvoke({
    functions: {
      echo: async (event) => ({ echoed: event }),
      record: async (event) => void received.push(event),
      broken: async () => {
        throw new TypeError('the function broke');
      },
    },
  });
  lambda = new LambdaClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});
afterAll(async () => server.close());

const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('local Lambda Invoke server, through the real AWS SDK', () => {
  test('RequestResponse returns the handler result', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: payload({ n: 7 }) }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(out.Payload))).toEqual({ echoed: { n: 7 } });
  });

  test('Event returns 202 at once and runs the handler in the background', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'record', InvocationType: 'Event', Payload: payload({ id: 'x' }) }));
    expect(out.StatusCode).toBe(202);
    await expect.poll(() => received).toContainEqual({ id: 'x' });
  });

  test('a function ARN resolves to its name', async () => {
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:echo';
    const out = await lambda.send(new InvokeCommand({ FunctionName: arn, Payload: payload(1) }));
    expect(JSON.parse(new TextDecoder().decode(out.Payload))).toEqual({ echoed: 1 });
  });

  test('a thrown error comes back as FunctionError, as Lambda reports it', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'broken', Payload: payload({}) }));
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(new TextDecoder().decode(out.Payload))).toMatchObject({ errorType: 'TypeError', errorMessage: 'the function broke' });
  });

  test('an unknown function is ResourceNotFoundException', async () => {
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'nope', Payload: payload({}) }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });
});
