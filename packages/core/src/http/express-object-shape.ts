/**
 * Why Bulwark's Express steps switch `req` and `res` to dictionary properties (measured on Node 20,
 * V8 11.3, Express 5):
 *
 * Express hands every middleware a request and a response whose hidden class (V8 "map") is their
 * own: `app.handle` swaps their prototypes (`Object.setPrototypeOf(req, app.request)`), and from
 * the swapped-in map V8 keeps no transitions, so each property the router, Express or a middleware
 * then adds builds yet another map that no other request shares. Two costs follow, on every
 * request:
 * - adding a property (`req.requestId = ...`, `req.principal = ...`) creates a map and copies the
 *   descriptors of the request's 30-odd properties: about 1 µs per property added;
 * - every property access site that sees these objects (in Bulwark, Express and Node's http code
 *   alike) meets a map it has never seen: its inline cache misses and falls back to a lookup in the
 *   runtime, about 0.1-0.4 µs per access.
 * A request in dictionary mode keeps its properties in a hash table instead: adds are hash inserts
 * and reads are hash lookups, both well under 0.1 µs, whatever map other requests have.
 *
 * On an Express 5 app, 5 property adds and 15 reads cost about 7 µs per request as Express leaves
 * the request, and about 3.3 µs in dictionary mode, the switch included. End to end, the http
 * benchmark's Express bundle served about 40% more requests per second with `req` and `res`
 * switched (bench/README.md). A plain Node request (Koa's `ctx.req`, Fastify's `raw`) shares one
 * map with every other request, so the same switch would make it slower (0.1 -> 1 µs for the same
 * work): only Express's objects are switched (see isExpressRequest).
 */

const PROBE_A = Symbol('bulwark.dictionary-probe-a');
const PROBE_B = Symbol('bulwark.dictionary-probe-b');

/**
 * Moves `target`'s properties into dictionary mode: V8 does so when a property other than the
 * last one added is deleted. Two symbol-keyed properties are added and both deleted, so the
 * object's own keys are exactly what they were. A non-extensible object is left alone.
 * @internal
 */
export function useDictionaryProperties(target: object): void {
  if (!Object.isExtensible(target)) return;
  const t = target as Record<symbol, unknown>;
  t[PROBE_A] = 0;
  t[PROBE_B] = 0;
  delete t[PROBE_A]; // not the last property added: the object leaves its map for a hash table
  delete t[PROBE_B];
}

/**
 * True for a request Express is handling: Express's `req.app` (its documented reference to the
 * application, a function) is set on the prototype `app.handle` swaps in.
 * @internal
 */
export function isExpressRequest(req: object): boolean {
  return typeof (req as { app?: unknown }).app === 'function';
}

/**
 * Switches an Express request and its response (`req.res`) to dictionary properties, once, when
 * the first Bulwark step meets the request (see the comment at the top of this file). Anything
 * else (a Node request, a test's plain object) is left as it is. For adapters: Bulwark's Express
 * and NestJS steps call it; an app that wants the same for its own Express middleware in front of
 * Bulwark's can call it first.
 */
export function detachExpressRequestShape(req: object): void {
  if (!isExpressRequest(req)) return;
  useDictionaryProperties(req);
  const res = (req as { res?: unknown }).res;
  if (typeof res === 'object' && res !== null) useDictionaryProperties(res);
}
