import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { User as Account } from '../../accounts/accounts.js';
import { MAX_LEDGER_PAGE, type TokenBalance as Balance } from '../../accounts/token-service.js';
import type { GraphQLContext } from '../context.js';
import { ErrorCode, forbidden, graphqlError } from '../errors.js';
import { connection, type Connection } from '../pagination.js';
import { User } from './account-types.js';
import { TokenBalance, TokenLedgerConnection, type TokenLedgerEntry } from './token-types.js';

@Resolver(() => User)
export class TokenResolver {
  @FieldResolver(() => TokenBalance, { description: 'Visible to the user and to admins.' })
  tokens(@Root() owner: Account, @Ctx() { user, services }: GraphQLContext): Promise<Balance> {
    if (user?.id !== owner.id && user?.role !== 'ADMIN') throw forbidden('the user and admins');
    return services.tokens.balance({ userId: owner.id, plan: owner.plan });
  }

  @Authorized()
  @Query(() => TokenLedgerConnection, { description: "The caller's token ledger, newest first." })
  async tokenLedger(
    @Ctx() { user, services }: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 20, description: `Entries per page, 1 to ${MAX_LEDGER_PAGE}.` }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'The `endCursor` of the previous page.' }) after?: string | null,
  ): Promise<Connection<TokenLedgerEntry>> {
    if (first < 1 || first > MAX_LEDGER_PAGE) {
      throw graphqlError(ErrorCode.BAD_USER_INPUT, `first must be between 1 and ${MAX_LEDGER_PAGE}.`);
    }
    const page = await services.tokens.ledger(user!.id, { first, after: after ?? undefined });
    const edges = page.entries.map((entry) => ({
      cursor: entry.cursor,
      node: { ...entry, generationId: entry.generationId ?? null },
    }));
    return connection(edges, { after, hasNextPage: page.hasNextPage });
  }

  @Authorized('ADMIN')
  @Mutation(() => TokenBalance, { description: 'Admins: gives a user bonus tokens, which never expire.' })
  async grantTokens(
    @Ctx() { services }: GraphQLContext,
    @Arg('userId', () => ID, { description: 'Id or name.' }) userId: string,
    @Arg('amount', () => Int) amount: number,
    @Arg('reason', { defaultValue: 'granted by an admin' }) reason: string,
  ): Promise<Balance> {
    const holder = await services.accounts.getUser(userId);
    return services.tokens.grant({ userId: holder.id, plan: holder.plan }, { amount, reason });
  }
}
