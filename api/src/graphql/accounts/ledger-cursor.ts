import type { LedgerPage, TokenService } from '../../accounts/token-service.js';
import { ErrorCode, graphqlError } from '../errors.js';

/**
 * Relay wants a cursor on every edge; the token service gives one per page (after its last
 * entry). So an edge's cursor is a position: the service cursor its page started from, plus how
 * many entries of that page to pass over. The last edge of a page is simply the page's end.
 */
interface Position {
  after?: string;
  skip: number;
}

export function encodeEdgeCursor(position: Position): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function decodeEdgeCursor(cursor: string): Position {
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as Position;
    const validAfter = position.after === undefined || typeof position.after === 'string';
    if (validAfter && Number.isInteger(position.skip) && position.skip >= 0) return position;
  } catch {
    // falls through to the error below
  }
  throw graphqlError(ErrorCode.BAD_USER_INPUT, 'That cursor is not one this API gave out; pass a page\'s endCursor as `after`.');
}

export interface LedgerSlice {
  page: LedgerPage;
  /** The service cursor the page was read from; edges' cursors are built from it. */
  start: string | undefined;
}

/** Reads `first` entries after the edge cursor `after` (from the newest without one). */
export async function readLedger(tokens: TokenService, userId: string, first: number, after: string | undefined): Promise<LedgerSlice> {
  let start: string | undefined;
  if (after !== undefined) {
    const position = decodeEdgeCursor(after);
    start = position.after;
    if (position.skip > 0) {
      const passed = await tokens.ledger(userId, { first: position.skip, after: start });
      if (passed.entries.length < position.skip || !passed.hasNextPage) {
        return { page: { entries: [], hasNextPage: false }, start };
      }
      start = passed.endCursor;
    }
  }
  return { page: await tokens.ledger(userId, { first, after: start }), start };
}

/** The cursor of entry `index` of a slice: the page's end for its last entry. */
export function edgeCursor({ page, start }: LedgerSlice, index: number): string {
  return index === page.entries.length - 1 && page.endCursor !== undefined
    ? encodeEdgeCursor({ after: page.endCursor, skip: 0 })
    : encodeEdgeCursor({ after: start, skip: index + 1 });
}
