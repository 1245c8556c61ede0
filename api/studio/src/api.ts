import { print } from '@0no-co/graphql.web';
import type { TadaDocumentNode } from 'gql.tada';
import { createClient, type Client } from 'graphql-ws';

/** The GraphQL endpoint, on the origin that served this page (HTTP and WebSocket alike). */
const ENDPOINT = '/graphql';

/** One GraphQL error as Easel sends it: a stable `extensions.code`, and the fields at fault. */
export interface ApiErrorDetail {
  message: string;
  code?: string;
  invalidFields?: { field: string; message: string }[];
  [extension: string]: unknown;
}

/** A request that failed: every error of the answer, or the network's. */
export class ApiError extends Error {
  constructor(readonly errors: ApiErrorDetail[]) {
    super(errors.map((error) => error.message).join(' '));
  }

  get code(): string | undefined {
    return this.errors[0]?.code;
  }

  /** The message for one input field (`invalidFields`), for showing next to that field. */
  fieldMessage(field: string): string | undefined {
    for (const error of this.errors) {
      const found = error.invalidFields?.find((invalid) => invalid.field === field);
      if (found) return found.message;
    }
    return undefined;
  }
}

interface RawError {
  message: string;
  extensions?: Record<string, unknown>;
}

const details = (errors: readonly RawError[]): ApiErrorDetail[] =>
  errors.map(({ message, extensions }) => ({ ...extensions, message, code: extensions?.code as string | undefined }));

/** Easel's public API, as the signed-in user sees it: queries and mutations over HTTP, subscriptions over graphql-ws. */
export class Api {
  private ws?: Client;

  constructor(private readonly key: string) {}

  async request<Result, Variables>(document: TadaDocumentNode<Result, Variables>, variables?: Variables): Promise<Result> {
    let response: Response;
    try {
      response = await fetch(ENDPOINT, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.key}` },
        body: JSON.stringify({ query: print(document), variables }),
      });
    } catch {
      throw new ApiError([{ message: 'Easel cannot be reached. Is the server running?', code: 'NETWORK' }]);
    }
    const body = (await response.json().catch(() => ({}))) as { data?: Result; errors?: RawError[] };
    if (body.errors?.length) throw new ApiError(details(body.errors));
    if (!body.data) throw new ApiError([{ message: `Easel answered ${response.status} without data.`, code: 'NETWORK' }]);
    return body.data;
  }

  /** Follows a subscription; returns the function that stops it. */
  subscribe<Result, Variables extends Record<string, unknown>>(
    document: TadaDocumentNode<Result, Variables>,
    variables: Variables,
    handlers: { next: (data: Result) => void; error: (error: ApiError) => void; complete?: () => void },
  ): () => void {
    this.ws ??= createClient({
      url: new URL(ENDPOINT, location.href.replace(/^http/, 'ws')).href,
      connectionParams: { Authorization: `Bearer ${this.key}` },
      lazy: true,
      retryAttempts: 3,
    });
    return this.ws.subscribe<Result>(
      { query: print(document), variables },
      {
        next: (result) => {
          if (result.errors?.length) handlers.error(new ApiError(details(result.errors)));
          else if (result.data) handlers.next(result.data);
        },
        error: (error) =>
          handlers.error(
            new ApiError(Array.isArray(error) ? details(error as RawError[]) : [{ message: 'The live connection to Easel closed.', code: 'NETWORK' }]),
          ),
        complete: () => handlers.complete?.(),
      },
    );
  }

  /** `POST /uploads`: an img2img base image; answers its id and size. */
  async upload(file: File): Promise<{ id: string; width: number; height: number }> {
    const response = await fetch('/uploads', {
      method: 'POST',
      headers: { 'content-type': file.type || 'application/octet-stream', authorization: `Bearer ${this.key}` },
      body: file,
    });
    const body = (await response.json().catch(() => ({}))) as { id?: string; width?: number; height?: number; error?: { code: string; message: string } };
    if (!response.ok || !body.id) throw new ApiError([{ message: body.error?.message ?? `Upload failed (${response.status}).`, code: body.error?.code }]);
    return { id: body.id, width: body.width!, height: body.height! };
  }

  close(): void {
    void this.ws?.dispose();
  }
}
