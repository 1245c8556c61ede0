import { describe, expect, it } from 'vitest';
import { takeTurn } from '../../src/prompts/cpu-turns.js';

describe('takeTurn', () => {
  it('runs queued steps one per turn of the event loop, letting other work in between', async () => {
    const order: string[] = [];
    const steps = ['step 1', 'step 2', 'step 3'].map(async (name) => {
      await takeTurn();
      order.push(name);
    });
    // Queued after the three steps: with `await setImmediate()` each, it would run after all three.
    setImmediate(() => order.push('other work'));
    await Promise.all(steps);
    expect(order).toEqual(['step 1', 'other work', 'step 2', 'step 3']);
  });
});
