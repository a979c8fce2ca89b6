import { setFlagsFromString } from 'node:v8';

/**
 * V8's own answer to "are this object's properties in a hidden class (fast) or in a hash table
 * (dictionary mode)?", for the tests of Bulwark's Express request shape (core's
 * express-object-shape.ts). `%HasFastProperties` is a V8 intrinsic: the flag is set at run time,
 * before the function using it is compiled, so the test processes need no command-line flag.
 */
setFlagsFromString('--allow-natives-syntax');
export const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
