import type { Request, Response } from 'express';
import { securityHeaders } from '../src';
import { securityHeaderReplayScenarios } from '../../../test/support/security-header-replay-scenarios';

securityHeaderReplayScenarios('express', (options) => {
  const step = securityHeaders(options);
  return (req, res) => {
    let passed = false;
    step(req as Request, res as Response, (err?: unknown) => {
      if (err) throw err;
      passed = true;
    });
    expect(passed).toBe(true);
  };
});
