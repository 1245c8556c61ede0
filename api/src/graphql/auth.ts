import type { AuthChecker } from 'type-graphql';
import type { Role } from '../accounts/user.js';
import type { GraphQLContext } from './context.js';
import { forbidden, unauthenticated } from './errors.js';

/**
 * `@Authorized()` needs any signed-in user, `@Authorized('ADMIN')` an admin. Throwing (rather
 * than returning false) lets us pick the codes: UNAUTHENTICATED vs FORBIDDEN.
 */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context }, roles) => {
  if (!context.user) throw unauthenticated();
  if (roles.length > 0 && !roles.includes(context.user.role)) {
    throw forbidden(roles.map((role) => `${role.toLowerCase()}s`).join(' or '));
  }
  return true;
};
