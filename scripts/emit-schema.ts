import { writeFile } from 'node:fs/promises';
import { printEaselSchema } from '@easel/api';

/** `npm run schema:emit`: writes schema/schema.graphql from the type-graphql code. */
const target = new URL('../../schema/schema.graphql', import.meta.url);
await writeFile(target, await printEaselSchema());
console.log(`wrote ${target.pathname}`);
