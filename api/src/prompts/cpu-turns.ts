/*
 * CPU-heavy steps of many requests, one per turn of the event loop: between two steps the loop
 * reads sockets and answers other requests. (Awaiting setImmediate alone is not enough: the
 * continuations queued in one turn all run in that turn's check phase, back to back.)
 */

const waiting: (() => void)[] = [];
let draining = false;

/** Resolves when it is this caller's turn; run one bounded step, then take another turn. */
export function takeTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!draining) {
      draining = true;
      setImmediate(next);
    }
  });
}

function next(): void {
  const resolve = waiting.shift();
  if (!resolve) {
    draining = false;
    return;
  }
  // The step runs in the microtasks right after this callback; the next one a turn later.
  resolve();
  setImmediate(next);
}
