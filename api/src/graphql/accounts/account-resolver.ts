import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { ApiKey as StoredApiKey, IssuedApiKey as Issued, Plan, User as Account } from '../../accounts/accounts.js';
import type { Role } from '../../accounts/user.js';
import type { GraphQLContext } from '../context.js';
import { ErrorCode, forbidden, graphqlError } from '../errors.js';
import { PlanEnum, RoleEnum } from './account-enums.js';
import { ApiKey, CreatedUser, CreateUserInput, IssuedApiKey, User } from './account-types.js';

@Resolver(() => User)
export class AccountResolver {
  @Authorized()
  @Query(() => User, { description: 'The caller.' })
  me(@Ctx() { user }: GraphQLContext): Account {
    return user!;
  }

  @FieldResolver(() => [ApiKey], { description: 'Visible to the user and to admins.' })
  apiKeys(@Root() owner: Account, @Ctx() { user, services }: GraphQLContext): Promise<StoredApiKey[]> {
    if (user?.id !== owner.id && user?.role !== 'ADMIN') throw forbidden('the user and admins');
    return services.accounts.listApiKeys(owner.id);
  }

  @Authorized()
  @Mutation(() => IssuedApiKey, {
    description: 'Makes a new API key for the caller, or (admins) for `userId`. The key is shown only in this answer.',
  })
  createApiKey(
    @Ctx() { user, services }: GraphQLContext,
    @Arg('label', { description: 'What the key is for, e.g. "laptop".' }) label: string,
    @Arg('userId', () => ID, { nullable: true }) userId?: string,
  ): Promise<Issued> {
    if (label.trim().length === 0 || label.length > 100) {
      throw graphqlError(ErrorCode.BAD_USER_INPUT, 'label must be 1 to 100 characters, e.g. "laptop".');
    }
    const owner = userId ?? user!.id;
    if (owner !== user!.id && user!.role !== 'ADMIN') throw forbidden('admins');
    return services.accounts.createApiKey(owner, label);
  }

  @Authorized()
  @Mutation(() => ApiKey, { description: 'Revokes one of your keys (admins: any key) by id or prefix. It stops working at once.' })
  revokeApiKey(@Ctx() { user, services }: GraphQLContext, @Arg('id', () => ID) id: string): Promise<StoredApiKey> {
    return services.accounts.revokeApiKey(id, user!.role === 'ADMIN' ? undefined : user!.id);
  }

  @Authorized('ADMIN')
  @Query(() => [User], { description: 'Admins: every user, oldest first.' })
  users(@Ctx() { services }: GraphQLContext): Promise<Account[]> {
    return services.accounts.listUsers();
  }

  @Authorized('ADMIN')
  @Query(() => User, { nullable: true, description: 'Admins: a user by id or name.' })
  async user(@Ctx() { services }: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Account | null> {
    return (await services.accounts.findUser(id)) ?? null;
  }

  @Authorized('ADMIN')
  @Mutation(() => CreatedUser, { description: 'Admins: creates a user with a first API key, shown only in this answer.' })
  createUser(@Ctx() { services }: GraphQLContext, @Arg('input') input: CreateUserInput): Promise<{ user: Account } & Issued> {
    return services.accounts.createUser(input);
  }

  @Authorized('ADMIN')
  @Mutation(() => User, { description: "Admins: changes a user's plan (and so their daily allowance)." })
  setPlan(
    @Ctx() { services }: GraphQLContext,
    @Arg('userId', () => ID, { description: 'Id or name.' }) userId: string,
    @Arg('plan', () => PlanEnum) plan: Plan,
  ): Promise<Account> {
    return services.accounts.setPlan(userId, plan);
  }

  @Authorized('ADMIN')
  @Mutation(() => User, { description: "Admins: changes a user's role." })
  setRole(
    @Ctx() { services }: GraphQLContext,
    @Arg('userId', () => ID, { description: 'Id or name.' }) userId: string,
    @Arg('role', () => RoleEnum) role: Role,
  ): Promise<Account> {
    return services.accounts.setRole(userId, role);
  }
}
