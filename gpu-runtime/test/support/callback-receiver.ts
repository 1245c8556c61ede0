import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GenerationEvent, type CallbackReply } from '@easel/schema';
import { SIGNATURE_HEADER, verifySignature } from '@easel/schema';

export interface ReceivedEvent {
  event: GenerationEvent;
  /** Whether the signature header verified against the job secret. */
  signed: boolean;
}

export interface ReceivedRequest {
  url: string;
  signed: boolean;
}

export interface CallbackReceiver {
  url: string;
  /** Events as received, parsed with the contract's schema. */
  events: ReceivedEvent[];
  /** The GETs for base images, and whether each was signed. */
  downloads: ReceivedRequest[];
  /** Serves `body` (status 200 unless given) at `url + path`. */
  serve(path: string, body: Buffer, status?: number): string;
  /** Decides each event's answer; by default `{ cancel: false }`. */
  reply: (event: GenerationEvent) => CallbackReply | { status: number };
  /** Resolves once an event of this type (for this job) has arrived. */
  waitFor(type: GenerationEvent['type'], jobId?: string): Promise<GenerationEvent>;
  close(): Promise<void>;
}

/**
 * A real HTTP endpoint standing in for the API's callback: it checks each event's signature with
 * the job secret, parses it with the event contract, and answers as the test says.
 */
export async function startCallbackReceiver(secret: string): Promise<CallbackReceiver> {
  const files = new Map<string, { body: Buffer; status: number }>();
  const waiters = new Set<() => void>();

  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    const signed = verifySignature(secret, body, header(request)).ok;
    if (request.method === 'GET') {
      receiver.downloads.push({ url: request.url ?? '', signed });
      const file = files.get(request.url ?? '');
      if (!file) return void response.writeHead(404).end('no such file');
      return void response.writeHead(file.status, { 'content-type': 'application/octet-stream' }).end(file.body);
    }
    const event = GenerationEvent.parse(JSON.parse(body.toString('utf8')));
    receiver.events.push({ event, signed });
    waiters.forEach((check) => check());
    const answer = receiver.reply(event);
    if ('status' in answer) return void response.writeHead(answer.status).end('{}');
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const receiver: CallbackReceiver = {
    url,
    events: [],
    downloads: [],
    reply: () => ({ cancel: false }),
    serve(path, body, status = 200) {
      files.set(path, { body, status });
      return url + path;
    },
    waitFor: (type, jobId) =>
      new Promise((resolve) => {
        const check = () => {
          const found = receiver.events.find(({ event }) => event.type === type && (jobId === undefined || event.jobId === jobId));
          if (!found) return;
          waiters.delete(check);
          resolve(found.event);
        };
        waiters.add(check);
        check();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return receiver;
}

function header(request: IncomingMessage): string | undefined {
  const value = request.headers[SIGNATURE_HEADER];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
