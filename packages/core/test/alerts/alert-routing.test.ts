import { AlertRouting } from '../../src/alerts/alert-routing';
import type { AlertInput } from '../../src/alerts/alert';
import { BulwarkConfigError } from '../../src/errors';

const names = new Set(['ops', 'pager']);
const T0 = Date.parse('2026-03-02T12:00:00Z'); // a Monday, noon UTC
const alert = (over: Partial<AlertInput> = {}): AlertInput => ({
  rule: 'failed-login-burst',
  severity: 'medium',
  category: 'detection',
  message: 'm',
  subject: { account: 'a1' },
  ...over,
});

describe('AlertRouting', () => {
  it('routes by severity, rule and category to the union of matching routes', () => {
    const r = new AlertRouting(
      {
        routes: [
          { channels: ['ops'], minSeverity: 'medium' },
          { channels: ['pager'], minSeverity: 'critical' },
          { channels: ['pager'], rules: ['break-glass'] },
          { channels: ['pager'], categories: ['integrity'] },
        ],
      },
      names,
    );
    expect(r.decide(alert({ severity: 'low' }), T0)).toEqual({ deliver: false, reason: 'no-route' });
    expect(r.decide(alert(), T0)).toMatchObject({ deliver: true, channels: ['ops'] });
    expect(r.decide(alert({ rule: 'break-glass', severity: 'low' }), T0)).toMatchObject({
      channels: ['pager'],
    });
    expect(r.decide(alert({ rule: 'x', category: 'integrity', severity: 'critical' }), T0)).toMatchObject({
      channels: ['ops', 'pager'],
    });
  });

  it('routes by minimum risk score', () => {
    const r = new AlertRouting({ routes: [{ channels: ['pager'], minRisk: 50 }] }, names);
    const risk = (score: number) => ({ score, signals: [{ name: 'x', weight: score }] });
    expect(r.decide(alert({ risk: risk(49) }), T0)).toEqual({ deliver: false, reason: 'no-route' });
    expect(r.decide(alert(), T0)).toEqual({ deliver: false, reason: 'no-route' });
    expect(r.decide(alert({ risk: risk(50) }), T0)).toMatchObject({ deliver: true, channels: ['pager'] });
    expect(() => new AlertRouting({ routes: [{ channels: ['ops'], minRisk: 101 }] }, names)).toThrow(
      /minRisk/,
    );
  });

  it('de-duplicates one key within the window and counts the repeats on the next alert', () => {
    const r = new AlertRouting({ dedupeSec: 60 }, names);
    expect(r.decide(alert(), T0).deliver).toBe(true);
    expect(r.decide(alert({ message: 'again' }), T0 + 1000)).toEqual({ deliver: false, reason: 'duplicate' });
    expect(r.decide(alert(), T0 + 2000)).toEqual({ deliver: false, reason: 'duplicate' });
    // another subject is another key
    expect(r.decide(alert({ subject: { account: 'a2' } }), T0 + 2000).deliver).toBe(true);
    expect(r.decide(alert(), T0 + 61_000)).toEqual({
      deliver: true,
      channels: ['ops', 'pager'],
      suppressed: 2,
    });
  });

  it('rate-limits a rule, but never a critical alert', () => {
    const r = new AlertRouting({ rateLimit: { max: 2, windowSec: 3600 } }, names);
    expect(r.decide(alert({ subject: { n: '1' } }), T0).deliver).toBe(true);
    expect(r.decide(alert({ subject: { n: '2' } }), T0).deliver).toBe(true);
    expect(r.decide(alert({ subject: { n: '3' } }), T0)).toEqual({ deliver: false, reason: 'rate-limited' });
    expect(r.decide(alert({ subject: { n: '4' }, severity: 'critical' }), T0).deliver).toBe(true);
    expect(r.decide(alert({ subject: { n: '5' } }), T0 + 3_601_000).deliver).toBe(true);
  });

  it('drops non-critical alerts in quiet hours and always lets critical ones through', () => {
    const r = new AlertRouting(
      { quietHours: { start: '22:00', end: '07:00', timeZone: 'Europe/Berlin' } },
      names,
    );
    const night = Date.parse('2026-03-02T23:30:00Z'); // 00:30 in Berlin
    expect(r.decide(alert({ severity: 'high' }), night)).toEqual({ deliver: false, reason: 'quiet-hours' });
    expect(r.decide(alert({ severity: 'critical' }), night).deliver).toBe(true);
    expect(r.decide(alert({ severity: 'high', subject: { x: '1' } }), T0).deliver).toBe(true);
  });

  it('refuses bad configuration with the path', () => {
    expect(() => new AlertRouting({ routes: [{ channels: ['nope'] }] }, names)).toThrow(
      /alerts.routes\[0\].channels\[0\]/,
    );
    expect(
      () => new AlertRouting({ routes: [{ channels: ['ops'], minSeverity: 'urgent' as never }] }, names),
    ).toThrow(BulwarkConfigError);
    expect(
      () => new AlertRouting({ quietHours: { start: '25:00', end: '07:00', timeZone: 'UTC' } }, names),
    ).toThrow(/quietHours.start/);
    expect(
      () => new AlertRouting({ quietHours: { start: '22:00', end: '07:00', timeZone: 'Mars/Base' } }, names),
    ).toThrow(/quietHours.timeZone/);
    expect(() => new AlertRouting({ dedupeSec: -1 }, names)).toThrow(/alerts.dedupeSec/);
  });
});
