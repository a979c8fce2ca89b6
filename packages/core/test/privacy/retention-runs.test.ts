import { ErrorCodes } from '../../src/errors';
import { DataRetention, type RetentionRule, type RetentionRun } from '../../src/privacy/data-retention';
import { MemoryRegisterStore } from '../../src/privacy/register-store';

const DAY = 86_400_000;
const NOW = new Date('2025-06-01T00:00:00Z');

/** Two instances sharing rule and run stores, each with the app's source registered. */
function twoInstances(clockA: () => Date = () => NOW, clockB: () => Date = () => NOW) {
  const ruleStore = new MemoryRegisterStore<RetentionRule>();
  const runStore = new MemoryRegisterStore<RetentionRun>();
  const rows = [NOW.getTime() - 40 * DAY, NOW.getTime() - 40 * DAY, NOW.getTime() - DAY];
  const source = {
    id: 'sessions',
    category: 'telemetry',
    purge(olderThan: Date, limit: number) {
      const old = rows.filter((t) => t < olderThan.getTime()).slice(0, limit);
      for (const t of old) rows.splice(rows.indexOf(t), 1);
      return old.length;
    },
  };
  const make = (clock: () => Date) => {
    const r = new DataRetention({ ruleStore, runStore, clock });
    r.registerSource(source);
    return r;
  };
  return { a: make(clockA), b: make(clockB), runStore };
}

describe('retention runs shared through a run store', () => {
  it('the purge job on one instance is the evidence every instance reports', async () => {
    const { a, b } = twoInstances();
    await a.addPolicy({ category: 'telemetry', days: 30, basis: 'security monitoring' });
    expect((await b.sources())[0]!.lastPurge).toBeUndefined();
    await a.purge();
    expect((await b.sources())[0]!.lastPurge).toEqual({
      at: NOW.toISOString(),
      purged: 2,
      outcome: 'success',
    });
  });

  it('a run that finishes after a later one does not replace it', async () => {
    const later = new Date(NOW.getTime() + DAY);
    const { a, b } = twoInstances(
      () => later,
      () => NOW,
    );
    await a.addPolicy({ category: 'telemetry', days: 30, basis: 'security monitoring' });
    await a.purge();
    await b.purge(); // an instance whose run started earlier reports last
    expect((await b.sources())[0]!.lastPurge).toMatchObject({ at: later.toISOString(), purged: 2 });
  });

  it('a run edited around the store is refused, not reported', async () => {
    const { a, runStore } = twoInstances();
    await a.addPolicy({ category: 'telemetry', days: 30, basis: 'security monitoring' });
    await a.purge();
    const stored = (await runStore.get('sessions'))!;
    await runStore.update('sessions', stored.version, { ...stored.value, outcome: 'great' as never });
    await expect(a.sources()).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
  });
});
