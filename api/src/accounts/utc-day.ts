/** The UTC calendar day of `at`, as 'YYYY-MM-DD' (these sort in time order as strings). */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The first instant of the UTC day after `at`. */
export function nextUtcMidnight(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1));
}
