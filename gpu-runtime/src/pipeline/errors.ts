/**
 * Errors a caller can act on, each with a stable `code` (the Lambda handler reports it in its
 * `failed` event; the API maps it to a GraphQL `extensions.code`).
 */

/** The request cannot be run as given: a bad setting, an unreadable base image. */
export class InvalidRequestError extends Error {
  readonly code = 'INVALID_REQUEST';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidRequestError';
  }
}

/** The caller's AbortSignal fired; raised between steps. Named AbortError, as fetch and Node do. */
export class GenerationCancelledError extends Error {
  readonly code = 'CANCELLED';

  constructor(step: number, totalSteps: number) {
    super(`generation cancelled after step ${step} of ${totalSteps}`);
    this.name = 'AbortError';
  }
}
