import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditEvent } from '../../src/audit/audit-event';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { BulwarkConfigError } from '../../src/errors';
import {
  renderSecurityReportHtml,
  renderSecurityReportJson,
  renderSecurityReportMarkdown,
  securityReport,
} from '../../src/reports';

// The security report over a period: every figure reproducible by its audit query; the HTML
// self-contained (checked in headless Chromium when it is installed).

const DAY = '2026-04-0';
const at = (day: number, hour = 10) => `${DAY}${day}T${String(hour).padStart(2, '0')}:00:00.000Z`;
const alice = { id: 'alice', type: 'user' as const, ip: '192.0.2.1' };
const mallory = { id: '<script>alert(1)</script>', type: 'user' as const, ip: '192.0.2.66' };

async function periodLog(): Promise<AuditLog> {
  const log = await AuditLog.open({ store: new MemoryAuditStore() });
  const events: AuditEvent[] = [
    { time: at(1), actor: alice, action: 'auth.login', outcome: 'success' },
    { time: at(1, 11), actor: mallory, action: 'auth.login', outcome: 'failure' },
    { time: at(2), actor: mallory, action: 'auth.login', outcome: 'failure' },
    { time: at(2, 11), actor: mallory, action: 'auth.lockout', outcome: 'success' },
    {
      time: at(2, 12),
      actor: mallory,
      action: 'http.GET',
      outcome: 'denied',
      details: { method: 'GET', route: '/admin/<b>users</b>', status: 403 },
    },
    {
      time: at(3),
      actor: mallory,
      action: 'http.GET',
      outcome: 'denied',
      details: { method: 'GET', route: '/admin/<b>users</b>', status: 403 },
    },
    {
      time: at(3, 11),
      actor: alice,
      action: 'patient.read',
      outcome: 'denied',
      resource: { type: 'patient', id: 'p1' },
    },
    { time: at(3, 12), actor: alice, action: 'authz.break_glass.granted', outcome: 'success' },
    { time: at(3, 13), actor: alice, action: 'authz.break_glass.used', outcome: 'success' },
    {
      time: at(3, 14),
      actor: { id: 'bulwark-threat-detector', type: 'system' },
      action: 'security.violation',
      outcome: 'success',
      details: { rule: 'failed-login-burst', severity: 'medium' },
    },
    { time: at(3, 15), actor: alice, action: 'dsr.received', outcome: 'success' },
    // outside the period
    { time: '2026-04-05T00:00:00.000Z', actor: mallory, action: 'auth.login', outcome: 'failure' },
  ];
  for (const e of events) await log.append(e);
  await log.flush();
  return log;
}

const period = {
  from: '2026-04-01T00:00:00Z',
  to: '2026-04-04T00:00:00Z',
  clock: () => new Date('2026-04-04T08:00:00Z'),
};

describe('security report', () => {
  it('counts the period and every figure is reproduced by its query', async () => {
    const log = await periodLog();
    const r = await securityReport(log, period);
    expect(r.entries).toBe(11);
    expect(r.figures.signIns.count).toBe(1);
    expect(r.figures.signInFailures.count).toBe(2);
    expect(r.figures.lockouts.count).toBe(1);
    expect(r.figures.denials.count).toBe(3);
    expect(r.figures.breakGlassGrants.count).toBe(1);
    expect(r.figures.breakGlassUses.count).toBe(1);
    expect(r.figures.violations.count).toBe(1);
    expect(r.figures.dsrReceived.count).toBe(1);
    for (const f of Object.values(r.figures)) {
      if (f.counts === 'requests') continue; // counted per request: security-report-sections.test.ts
      expect((await log.query({ ...f.query, limit: 1000 })).entries).toHaveLength(f.count);
    }
    expect(r.figures.signInFailures.command).toBe(
      'bulwark audit export --action auth.login --outcome failure --from 2026-04-01T00:00:00.000Z --to 2026-04-04T00:00:00.000Z',
    );
    expect(r.denialsByRoute).toEqual([
      { key: 'GET /admin/<b>users</b>', count: 2 },
      { key: 'patient', count: 1 },
    ]);
    expect(r.denialsBySubject[0]).toEqual({ key: `user:${mallory.id}`, count: 2 });
    expect(r.violationsByRule).toEqual([{ key: 'failed-login-burst', count: 1 }]);
    expect(r.topActors.slice(0, 2)).toEqual([
      { key: `user:${mallory.id}`, count: 5 },
      { key: 'user:alice', count: 5 },
    ]);
    expect(r.daily).toEqual([
      { day: '2026-04-01', signInFailures: 1, denials: 0, violations: 0 },
      { day: '2026-04-02', signInFailures: 1, denials: 1, violations: 0 },
      { day: '2026-04-03', signInFailures: 0, denials: 2, violations: 1 },
    ]);
    expect(JSON.parse(renderSecurityReportJson(r))).toEqual(JSON.parse(JSON.stringify(r)));
    const md = renderSecurityReportMarkdown(r);
    expect(md).toContain('| Failed sign-ins | 2 |');
    expect(md).toContain('| 2026-04-03 | 0 | 2 | 1 |');
    await log.close();
  });

  it('refuses a bad period', async () => {
    const log = await periodLog();
    await expect(securityReport(log, { from: 'yesterday', to: period.to })).rejects.toThrow(
      BulwarkConfigError,
    );
    await expect(securityReport(log, { from: period.to, to: period.from })).rejects.toThrow(/after from/);
    await log.close();
  });

  it('HTML is self-contained and escapes what actors and clients wrote', async () => {
    const log = await periodLog();
    const html = renderSecurityReportHtml(await securityReport(log, period));
    await log.close();
    expect(html).not.toMatch(/<script|src=|href="http/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain("default-src 'none'");
    expect((html.match(/<svg /g) ?? []).length).toBe(5);
  });
});

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI !== 'true') {
  console.warn(
    `skipping security report rendering test: ${CHROMIUM} is not installed (apt-get install chromium)`,
  );
}
const maybe = available || process.env.CI === 'true' ? describe : describe.skip;

maybe('security report HTML in headless Chromium', () => {
  jest.setTimeout(60_000);

  it('renders the charts, runs no script and loads nothing', async () => {
    const log = await periodLog();
    const html = renderSecurityReportHtml(await securityReport(log, period));
    await log.close();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-secreport-'));
    const file = path.join(dir, 'report.html');
    await fs.writeFile(file, html);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(pathToFileURL(file).href);
      expect(await page.locator('svg.trend rect').count()).toBe(3 * 3);
      expect(await page.locator('svg.ranked').count()).toBe(4);
      const box = await page.locator('svg.trend').boundingBox();
      expect(box!.width).toBeGreaterThan(0);
      expect(await page.locator('b').count()).toBe(0);
      expect(dialogs).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    } finally {
      await browser.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
