import { Length } from 'class-validator';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import type { Plan } from '../../accounts/accounts.js';
import type { Role } from '../../accounts/user.js';
import { PlanEnum, RoleEnum } from './account-enums.js';

@ObjectType()
export class User {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => PlanEnum)
  plan!: Plan;

  @Field(() => RoleEnum)
  role!: Role;

  @Field()
  createdAt!: Date;
}

@ObjectType({ description: 'An API key as stored: never the key itself, which is shown only once.' })
export class ApiKey {
  @Field(() => ID)
  id!: string;

  @Field()
  label!: string;

  @Field({ description: 'The first characters of the key, to tell keys apart.' })
  prefix!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;
}

@ObjectType({ description: 'A new API key. `key` is shown this once; store it now.' })
export class IssuedApiKey {
  @Field({ description: 'Send it as "Authorization: Bearer <key>".' })
  key!: string;

  @Field(() => ApiKey)
  apiKey!: ApiKey;
}

@ObjectType()
export class CreatedUser extends IssuedApiKey {
  @Field(() => User)
  user!: User;
}

@InputType()
export class CreateUserInput {
  @Field()
  @Length(1, 100)
  name!: string;

  @Field(() => PlanEnum, { defaultValue: 'FREE' })
  plan!: Plan;

  @Field(() => RoleEnum, { defaultValue: 'USER' })
  role!: Role;
}
