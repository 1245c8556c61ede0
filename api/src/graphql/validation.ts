import { validate, type ValidationError } from 'class-validator';
import { ErrorCode, graphqlError } from './errors.js';

/**
 * type-graphql's validateFn: checks input objects with their class-validator decorators and, on
 * failure, throws one BAD_USER_INPUT error whose message names every bad field
 * ("Invalid input: slug must be ...; defaults.steps must be ...") instead of type-graphql's
 * bare "Argument Validation Error".
 */
export async function validateInput(argValue: unknown): Promise<void> {
  if (argValue === null || typeof argValue !== 'object') return;
  const values = Array.isArray(argValue) ? argValue : [argValue];
  const problems: { field: string; message: string }[] = [];
  for (const value of values) {
    if (value === null || typeof value !== 'object') continue;
    const errors = await validate(value, { forbidUnknownValues: false, skipMissingProperties: true });
    problems.push(...flatten(errors, ''));
  }
  if (problems.length === 0) return;
  throw graphqlError(ErrorCode.BAD_USER_INPUT, `Invalid input: ${problems.map((p) => p.message).join('; ')}.`, {
    invalidFields: problems,
  });
}

function flatten(errors: ValidationError[], parent: string): { field: string; message: string }[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      // class-validator starts each message with the bare property name; give the full path.
      message: message.startsWith(error.property) ? field + message.slice(error.property.length) : `${field}: ${message}`,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}
