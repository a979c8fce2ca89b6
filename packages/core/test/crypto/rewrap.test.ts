import { KeyRing } from '../../src/crypto/key-ring';
import { rewrap, type RewrapProgress } from '../../src/crypto/rewrap';
import { ErrorCodes } from '../../src/errors';
import { codeOf, memoryRing } from './helpers';

interface Row {
  id: string;
  value: string;
  aad: string;
}

async function seed(
  ring: KeyRing,
  count: number,
): Promise<{ table: Map<string, Row>; plain: Map<string, string> }> {
  const table = new Map<string, Row>();
  const plain = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const id = `row-${i}`;
    const aad = `users.email|${id}`;
    plain.set(id, `user${i}@example.com`);
    table.set(id, {
      id,
      aad,
      value: ring.encrypt('pii', `user${i}@example.com`, { aad, deterministic: i % 5 === 0 }),
    });
  }
  return { table, plain };
}

describe('rewrap', () => {
  it('moves every value to the primary in batches with progress; then retire works and nothing is unreadable', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const { table, plain } = await seed(ring, 25);
    await ring.rotate('pii');
    // A few rows already written under v2 are skipped.
    for (const id of ['row-1', 'row-2']) {
      const row = table.get(id)!;
      row.value = ring.encrypt('pii', plain.get(id)!, { aad: row.aad });
    }
    const progress: RewrapProgress[] = [];
    const writes: string[] = [];
    const report = await rewrap(ring, [...table.values()], {
      batchSize: 10,
      onProgress: (p) => progress.push({ ...p }),
      write: async (id, value) => {
        // Mid-rotation every stored value (old or new) must stay readable.
        for (const row of table.values())
          expect(ring.decryptString(row.value, { aad: row.aad })).toBe(plain.get(row.id));
        table.get(id)!.value = value;
        writes.push(id);
      },
    });
    expect(report).toEqual({ processed: 25, rewrapped: 23, skipped: 2, failed: [] });
    expect(writes).toHaveLength(23);
    expect(progress.map((p) => p.processed)).toEqual([10, 20, 25]);
    expect(progress.at(-1)).toMatchObject({ rewrapped: 23, skipped: 2, failed: 0, lastId: 'row-24' });
    for (const row of table.values()) {
      expect(ring.needsRewrap(row.value)).toBe(false);
      expect(row.value.split('.')[2]).toBe('2');
    }
    // Deterministic values stay deterministic under the new version.
    expect(table.get('row-5')!.value).toBe(
      ring.encrypt('pii', plain.get('row-5')!, { aad: table.get('row-5')!.aad, deterministic: true }),
    );

    await ring.retire('pii', 2);
    for (const row of table.values())
      expect(ring.decryptString(row.value, { aad: row.aad })).toBe(plain.get(row.id));

    const again = await rewrap(ring, [...table.values()], { write: () => undefined });
    expect(again).toEqual({ processed: 25, rewrapped: 0, skipped: 25, failed: [] });
    await ring.close();
  });

  it('reports tampered, wrong-aad, retired and failed-write values by id and code, and carries on', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const v1 = ring.encrypt('pii', 'a', { aad: 'x' });
    await ring.rotate('pii');
    const v2 = ring.encrypt('pii', 'b', { aad: 'x' });
    await ring.rotate('pii');
    await ring.retire('pii', 2);
    const tampered = v2.slice(0, -2) + (v2.endsWith('AA') ? 'BA' : 'AA');
    async function* source() {
      yield { id: 'retired', value: v1, aad: 'x' };
      yield { id: 'wrong-aad', value: v2, aad: 'y' };
      yield { id: 'tampered', value: tampered, aad: 'x' };
      yield { id: 'garbage', value: 'not an envelope' };
      yield { id: 'write-fails', value: v2, aad: 'x' };
      yield { id: 'ok', value: v2, aad: 'x' };
    }
    const written: string[] = [];
    const report = await rewrap(ring, source(), {
      write: (id) => {
        if (id === 'write-fails') throw new Error('db down');
        written.push(id);
      },
    });
    expect(report.processed).toBe(6);
    expect(report.rewrapped).toBe(1);
    expect(written).toEqual(['ok']);
    expect(report.failed).toEqual([
      { id: 'retired', code: ErrorCodes.CRYPTO_KEY_RETIRED },
      { id: 'wrong-aad', code: ErrorCodes.CRYPTO_DECRYPTION_FAILED },
      { id: 'tampered', code: ErrorCodes.CRYPTO_DECRYPTION_FAILED },
      { id: 'garbage', code: ErrorCodes.CRYPTO_MALFORMED },
      { id: 'write-fails', code: ErrorCodes.CRYPTO_REWRAP_WRITE_FAILED },
    ]);
    await ring.close();
  });

  it('stops between batches when aborted, and a rerun resumes where it left off', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const { table } = await seed(ring, 12);
    await ring.rotate('pii');
    const controller = new AbortController();
    const first = await rewrap(ring, [...table.values()], {
      batchSize: 4,
      signal: controller.signal,
      onProgress: () => controller.abort(),
      write: (id, value) => void (table.get(id)!.value = value),
    });
    expect(first.rewrapped).toBe(4);
    const second = await rewrap(ring, [...table.values()], {
      write: (id, value) => void (table.get(id)!.value = value),
    });
    expect(second).toEqual({ processed: 12, rewrapped: 8, skipped: 4, failed: [] });
    await ring.close();
  });

  it('skips subject envelopes (they are never rotated) and validates options', async () => {
    const ring = await memoryRing();
    await ring.createKey('pii');
    const env = await ring.encryptForSubject('alice', 'x');
    expect(await rewrap(ring, [{ id: '1', value: env }], { write: () => undefined })).toEqual({
      processed: 1,
      rewrapped: 0,
      skipped: 1,
      failed: [],
    });
    await expect(rewrap(ring, [], { write: () => undefined, batchSize: 0 })).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    });
    await expect(rewrap(ring, [], {} as never)).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    });
    expect(codeOf(() => ring.needsRewrap('bw1.nope.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA'))).toBe(
      ErrorCodes.CRYPTO_UNKNOWN_KEY,
    );
    await ring.close();
  });
});
