/**
 * GraphQL lets a client send null for an optional input field; here it means the same as leaving
 * it out, so such fields (and those left undefined) are dropped and services see only what was given.
 */
export function withoutNulls<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as never;
}
