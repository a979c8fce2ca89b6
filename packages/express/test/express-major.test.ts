import express from 'express';

// The suites run twice: against Express 5 (`express`) and Express 4 (the `express4` alias, see
// jest.express4.config.js). This pins that each run really loads the major it is named after.
declare const BULWARK_EXPRESS_MAJOR: number | undefined;

it('runs against the Express major its jest project names', () => {
  // Express 5 removed express.query(); Express 4 still has it.
  const loaded = typeof (express as unknown as { query?: unknown }).query === 'function' ? 4 : 5;
  expect(loaded).toBe(typeof BULWARK_EXPRESS_MAJOR === 'number' ? BULWARK_EXPRESS_MAJOR : 5);
});
