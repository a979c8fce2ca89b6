// The resources createBulwark opened, released newest first on close or on a failed start-up.

/** A resource to release on close (or when a later step of createBulwark fails). */
export interface Opened {
  readonly name: string;
  close(): Promise<void> | void;
}

/** Closes newest first; every resource is tried even if one fails, then the failure is rethrown. */
export async function closeAll(opened: Opened[]): Promise<void> {
  const errors: unknown[] = [];
  while (opened.length > 0) {
    const item = opened.pop()!;
    try {
      await item.close();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'several Bulwark services failed to close');
}

export const withClock = (clock: (() => Date) | undefined): { clock?: () => Date } =>
  clock ? { clock } : {};
