type Jose = typeof import('jose');
let joseModule: Jose | undefined;

/**
 * jose, loaded by the first token, checkpoint or erasure-receipt operation rather than by
 * `import '@bulwark/core'`: an app that never verifies a token does not pay for it at start-up.
 * Synchronous (jose 6 is ESM-only and reaches CommonJS through Node's require(esm)), so callers
 * keep their signatures and a hot path such as `TokenService.verify` pays one variable read after
 * the first call, not an await.
 */
export function jose(): Jose {
  return (joseModule ??= require('jose') as Jose);
}
