// `node --import <this file>`: lets Node run the .ts sources (see typescript-hooks.mjs).
import { register } from 'node:module';

register('./typescript-hooks.mjs', import.meta.url);
