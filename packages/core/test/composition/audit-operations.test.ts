import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { FileCheckpointStore } from '../../src/audit/file-checkpoint-store';
import { createBulwark } from '../../src/bulwark';
import { BulwarkConfigError } from '../../src/errors';
import { tempDir } from './composition-helpers';

// createBulwark's audit section: automatic checkpoints and torn-tail repair on start-up.

const event = {
  actor: { id: 'u1', type: 'user' as const },
  action: 'patient.read',
  outcome: 'success' as const,
};

describe('createBulwark audit operations', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
  });
  afterEach(() => remove());

  it('signs checkpoints every N entries (audit.checkpoint.every)', async () => {
    const signer = await CheckpointSigner.generate();
    const cpFile = path.join(dir, 'checkpoints.jsonl');
    const bulwark = await createBulwark({
      audit: {
        store: { file: path.join(dir, 'audit.jsonl'), fsync: 'none' },
        checkpoint: { signingKey: signer, store: { file: cpFile }, every: { entries: 2 } },
      },
    });
    const log = bulwark.auditLog!;
    expect(log.describe().autoCheckpoint).toEqual({ entries: 2 });
    await log.append(event);
    await log.append(event);
    await bulwark.close(); // waits for the checkpoint being signed
    const saved = await new FileCheckpointStore({ path: cpFile }).list();
    expect(saved.map((c) => c.treeSize)).toEqual([2]);
  });

  it('repairs a torn tail on start-up with audit.store.repairTornTail', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const first = await createBulwark({ audit: { store: { file, fsync: 'none' } } });
    await first.auditLog!.append(event);
    await first.close();
    await fs.appendFile(file, '{"seq":2,"ti');
    // Without the option the log opens but refuses appends until repaired.
    const refusing = await createBulwark({ audit: { store: { file } } });
    const loud = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    await expect(refusing.auditLog!.append(event)).rejects.toMatchObject({ code: 'ERR_AUDIT_TORN_TAIL' });
    // ...and says so at error level.
    expect(loud).toHaveBeenCalledTimes(1);
    expect(String(loud.mock.calls[0]![0])).toContain('ERR_AUDIT_TORN_TAIL');
    loud.mockRestore();
    await refusing.close();
    const repaired = await createBulwark({ audit: { store: { file, repairTornTail: true } } });
    expect((await repaired.auditLog!.append(event)).seq).toBe(2);
    expect(await repaired.auditLog!.verify()).toMatchObject({ ok: true, treeSize: 2 });
    await repaired.close();
    expect((await fs.readdir(dir)).some((f) => f.startsWith('audit.jsonl.torn-'))).toBe(true);
  });

  it('refuses bad values before opening anything', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const signer = await CheckpointSigner.generate();
    await expect(
      createBulwark({ audit: { store: { file, repairTornTail: 'yes' as never } } }),
    ).rejects.toThrow(/audit\.store\.repairTornTail/);
    await expect(
      createBulwark({
        audit: {
          store: { file },
          checkpoint: { signingKey: signer, store: 'memory', every: { entries: 0 } },
        },
      }),
    ).rejects.toBeInstanceOf(BulwarkConfigError);
    await expect(fs.access(file)).rejects.toThrow();
  });
});
