import type { ServerResponse } from 'node:http';
import { securityHeaders } from '../src/security-headers';
import type { MiddlewareRequest } from '../src';
import { securityHeaderReplayScenarios } from '../../../test/support/security-header-replay-scenarios';

securityHeaderReplayScenarios('nestjs', (options) => {
  const step = securityHeaders(options);
  return (req, res) => {
    let passed = false;
    step(req as MiddlewareRequest, res as ServerResponse, (err?: unknown) => {
      if (err) throw err;
      passed = true;
    });
    expect(passed).toBe(true);
  };
});
