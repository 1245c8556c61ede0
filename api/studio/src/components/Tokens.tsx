import type { ResultOf } from '../graphql.js';
import type { TokenBalanceFields } from '../operations.js';
import { timeOfDay, untilText } from '../format.js';

export type TokenBalance = ResultOf<typeof TokenBalanceFields>;

/** Tokens left today, bonus tokens, and when the daily part tops back up. */
export function Tokens({ tokens }: { tokens: TokenBalance }) {
  return (
    <section class="tokens" aria-label="Tokens" aria-live="polite">
      <strong data-testid="balance">{tokens.balance}</strong> tokens
      <span class="detail">
        {tokens.daily}/{tokens.dailyAllowance} today{tokens.bonus ? ` + ${tokens.bonus} bonus` : ''} · resets at{' '}
        <time dateTime={tokens.resetsAt} title={untilText(tokens.resetsAt)}>
          {timeOfDay(tokens.resetsAt)}
        </time>
      </span>
    </section>
  );
}
