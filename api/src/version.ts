import { createRequire } from 'node:module';

/** The server's version, from the api package's package.json (one folder above src/ and dist/). */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
