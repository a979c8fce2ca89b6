import type { DsrFilter, DsrStatus } from '../privacy/dsr-store';

// Kept apart from privacy/dsr-store.ts (types only) so that `@bulwark/core/store`, which tools such as the
// `bulwark audit` commands load, pulls in no privacy module that has code.

/** The statuses a filter asks for, as a list (undefined: any status; []: none), for DsrStore implementations. */
export function dsrFilterStatuses(filter: DsrFilter): readonly DsrStatus[] | undefined {
  if (filter.status === undefined) return undefined;
  return Array.isArray(filter.status) ? filter.status : [filter.status];
}
