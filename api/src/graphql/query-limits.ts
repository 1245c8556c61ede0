import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isLeafType,
  isListType,
  parse,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { QueryLimits } from '../config.js';

/*
 * What one GraphQL operation may ask for, checked before anything runs, on HTTP (Apollo) and on
 * graphql-ws alike: tokens (while parsing), aliases and depth (graphql-armor's validation rules),
 * and a cost budget (graphql-query-complexity, with the variables known). A refusal is
 * QUERY_TOO_COMPLEX, naming the limit, its value and what the operation needed.
 */

export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/** What the costly fields weigh, on top of 1 for every field. */
export const FIELD_COSTS: Record<string, number> = {
  // Parses, counts and lints up to 2 × 10,000 characters.
  'Query.analyzePrompt': 100,
  // Validates, charges and queues a job: the most work one field starts.
  'Mutation.generateImage': 200,
};

/** An unpaged list (models, samplers, users...) counts as this many items. */
export const UNPAGED_LIST_SIZE = 10;

export function tooComplex(limit: keyof QueryLimits, max: number, actual: number): GraphQLError {
  const names = { aliases: 'aliases', depth: 'depth', tokens: 'tokens', cost: 'cost' } as const;
  return new GraphQLError(`Query too complex: its ${names[limit]} is ${actual}, the limit is ${max}. Split it into smaller operations.`, {
    extensions: { code: QUERY_TOO_COMPLEX, limit, max, actual, http: { status: 400 } },
  });
}

/** graphql-js's parse error for the token limit (v16 spells it "more that"). */
const TOKEN_LIMIT_MESSAGE = /contains more tha[nt] \d+ tokens/;

/** graphql-js's parse options for the token limit (0: none). */
export const parseOptions = (limits: QueryLimits) => (limits.tokens ? { maxTokens: limits.tokens } : {});

/** Parses with the token limit: a huge document is refused before its tree is built. */
export function parseWithLimits(source: string, limits: QueryLimits): DocumentNode {
  try {
    return parse(source, parseOptions(limits));
  } catch (error) {
    throw (error instanceof GraphQLError && tokenLimitError(error, limits)) || error;
  }
}

/** graphql-js's message for the token limit, for the HTTP path where Apollo parses. */
export function tokenLimitError(error: GraphQLError, limits: QueryLimits): GraphQLError | undefined {
  // The parser stops at the first token past the limit: how many more there were is not known.
  return TOKEN_LIMIT_MESSAGE.test(error.message) ? tooComplex('tokens', limits.tokens, limits.tokens + 1) : undefined;
}

/** Aliases and depth, as validation rules that report QUERY_TOO_COMPLEX. */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  const report = (limit: 'aliases' | 'depth', max: number) => ({
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        const found = /found (\d+)/.exec(error.message);
        context?.reportError(tooComplex(limit, max, found ? Number(found[1]) : max + 1));
      },
    ],
  });
  return [
    limits.aliases && maxAliasesRule({ n: limits.aliases, ...report('aliases', limits.aliases) }),
    limits.depth && maxDepthRule({ n: limits.depth, ignoreIntrospection: true, ...report('depth', limits.depth) }),
  ].filter(Boolean) as ValidationRule[];
}

/** The most items one page of a paged list holds (larger `first` values are refused by the resolvers). */
export const MAX_PAGE = 100;

/**
 * An object field 1 (the costly ones their weight), a scalar 0, plus its children; a list is its
 * items times that: `first` items (at most MAX_PAGE) for a paged one, UNPAGED_LIST_SIZE otherwise.
 */
const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  // Introspection (GraphiQL's schema query) is served from memory: free.
  if (field.name.startsWith('__') || getNamedType(field.type).name.startsWith('__')) return 0;
  const own = FIELD_COSTS[`${type.name}.${field.name}`] ?? (isLeafType(getNamedType(field.type)) ? 0 : 1);
  const isList = isListType(getNullableType(field.type));
  // A connection's `first` sizes the page; its edges are that page, already counted.
  const size = typeof args.first === 'number' ? Math.min(Math.max(args.first, 0), MAX_PAGE) : isList && field.name !== 'edges' ? UNPAGED_LIST_SIZE : 1;
  return size * (own + childComplexity);
};

/** The operation's cost under the budget, or QUERY_TOO_COMPLEX. */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: QueryLimits,
  request: { variables?: Record<string, unknown> | null; operationName?: string | null },
): void {
  if (!limits.cost) return;
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      variables: request.variables ?? undefined,
      operationName: request.operationName ?? undefined,
      estimators: [estimator],
    });
  } catch {
    // Variables that do not fit the operation: execution refuses them with BAD_USER_INPUT, before any resolver runs.
    return;
  }
  if (cost > limits.cost) throw tooComplex('cost', limits.cost, cost);
}
