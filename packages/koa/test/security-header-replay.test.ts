import type { Context } from 'koa';
import { securityHeaders } from '../src';
import { securityHeaderReplayScenarios } from '../../../test/support/security-header-replay-scenarios';

securityHeaderReplayScenarios('koa', (options) => {
  const step = securityHeaders(options);
  return (req, res) => {
    let passed = false;
    void step({ req, res } as Context, async () => {
      passed = true;
    });
    expect(passed).toBe(true);
  };
});
