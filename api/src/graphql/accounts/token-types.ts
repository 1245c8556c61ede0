import { Field, ID, Int, ObjectType } from 'type-graphql';
import { LEDGER_KINDS, type LedgerKind } from '../../accounts/token-ledger.js';
import { graphqlEnum } from '../enum.js';
import { ConnectionType } from '../pagination.js';

const TokenLedgerKindEnum = graphqlEnum(
  'TokenLedgerKind',
  LEDGER_KINDS,
  'DAILY_TOPUP: the daily allowance refilled. GRANT: bonus from an admin. DEBIT: spent on a generation. REFUND: a failed or cancelled generation paid back.',
);

@ObjectType({ description: 'Tokens a user can spend: one buys one image.' })
export class TokenBalance {
  @Field(() => Int, { description: 'daily + bonus.' })
  balance!: number;

  @Field(() => Int, { description: "Left of today's allowance; spent first." })
  daily!: number;

  @Field(() => Int, { description: 'Granted by admins; never expire.' })
  bonus!: number;

  @Field(() => Int, { description: "The plan's daily allowance." })
  dailyAllowance!: number;

  @Field({ description: 'When the daily part next tops back up to the allowance (start of the next UTC day).' })
  resetsAt!: Date;
}

@ObjectType({ description: 'One change to a balance.' })
export class TokenLedgerEntry {
  @Field(() => ID)
  id!: string;

  @Field(() => TokenLedgerKindEnum)
  kind!: LedgerKind;

  @Field(() => Int, { description: 'Positive adds tokens, negative spends them.' })
  amount!: number;

  @Field(() => Int)
  balanceAfter!: number;

  @Field()
  reason!: string;

  @Field(() => ID, { nullable: true, description: 'The generation it belongs to, if any.' })
  generationId!: string | null;

  @Field()
  createdAt!: Date;
}

@ObjectType({ description: 'A page of ledger entries, newest first.' })
export class TokenLedgerConnection extends ConnectionType(TokenLedgerEntry, { name: 'TokenLedger', item: 'entry' }) {}
