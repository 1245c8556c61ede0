import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { printEaselSchema } from '../src/graphql/schema.js';

const schemaFile = path.resolve(import.meta.dirname, '../../schema/schema.graphql');

describe('schema/schema.graphql', () => {
  it('is what the code emits (run `npm run schema:emit` after changing the API)', async () => {
    const committed = readFileSync(schemaFile, 'utf8');
    expect(committed, 'schema/schema.graphql is stale: run `npm run schema:emit`').toBe(await printEaselSchema());
  });
});
