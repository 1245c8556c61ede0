import { buildStudio } from '../build-studio.js';

/** Vitest globalSetup: the API serves Easel Studio at `/`, so tests run against a current build. */
export default async function setup(): Promise<void> {
  await buildStudio({ quiet: true });
}
