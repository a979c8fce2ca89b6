const core = require('@bulwark/core'); const http = require('@bulwark/core/http');
(async () => {
  const store = new core.MemoryAuditStore(); const log = await core.AuditLog.open({ store });
  const auditor = new http.RequestAuditor({ log });
  const facts = () => ({ method: 'GET', route: '/hello', status: 200, latencyMs: Math.random(), requestId: require('crypto').randomUUID(), principal: { id: 'bench-user', type: 'user', roles: ['user'] }, ip: '127.0.0.1', userAgent: 'autocannon/7.15.0' });
  for (let r = 0; r < 100; r++) { for (let i = 0; i < 10; i++) auditor.record(facts()); await log.flush(); }
  const t = process.hrtime.bigint();
  const R = +process.env.R || 20000;
  for (let r = 0; r < R; r++) { for (let i = 0; i < 10; i++) auditor.record(facts()); await new Promise(setImmediate); }
  await log.flush();
  console.log('us/event', Number(process.hrtime.bigint() - t) / R / 10 / 1000);
})();
