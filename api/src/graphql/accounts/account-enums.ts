import { PLANS, ROLES } from '../../accounts/user.js';
import { graphqlEnum } from '../enum.js';

export const PlanEnum = graphqlEnum('Plan', PLANS, 'FREE and PLUS differ in their daily token allowance.');
export const RoleEnum = graphqlEnum('Role', ROLES, 'ADMIN may manage users, tokens and the catalog.');
