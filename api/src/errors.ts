/**
 * Errors the domain layer throws, independent of GraphQL: the CLI prints their message, and the
 * GraphQL layer maps each class to a stable `extensions.code` (see graphql/errors.ts).
 */

/** One bad field of an input, for clients that point at it (GraphQL `extensions.invalidFields`). */
export interface InvalidField {
  field: string;
  message: string;
}

/** The input is wrong in a way the caller can fix; the message says how. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';

  constructor(
    message: string,
    /** The fields at fault, when the input has named fields. */
    readonly invalidFields: InvalidField[] = [],
  ) {
    super(message);
  }
}

/** No such thing, or not visible to the caller. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The input collides with something that exists (a taken name or slug). */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** MongoDB's duplicate-key error, thrown when a unique index rejects a write. */
export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}
