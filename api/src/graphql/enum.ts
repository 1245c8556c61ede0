import { registerEnumType } from 'type-graphql';

/** Registers a GraphQL enum whose values are exactly the strings of a `const` list. */
export function graphqlEnum<const T extends string>(name: string, values: readonly T[], description: string): Record<T, T> {
  const enumObject = Object.fromEntries(values.map((value) => [value, value])) as Record<T, T>;
  registerEnumType(enumObject, { name, description });
  return enumObject;
}
