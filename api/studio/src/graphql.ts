import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/**
 * `graphql()` typed from schema/schema.graphql: `npm run studio:types` (run by the build and by
 * `npm run lint`) writes graphql-env.d.ts from the schema file, so a query that the schema does
 * not allow fails to typecheck.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; DateTimeISO: string };
  // Components read fragment fields directly; the fragments only keep field lists in one place.
  disableMasking: true;
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
export { readFragment } from 'gql.tada';
