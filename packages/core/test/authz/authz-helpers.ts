import type { AuthzResource, AuthzSubject } from '../../src/authz/authorizer';
import type { PolicyDocument } from '../../src/authz/policy-document';

/** A small clinic: doctor inherits nurse, admin inherits doctor and auditor. */
export const clinicPolicy: PolicyDocument = {
  version: 1,
  roles: {
    patient: {},
    nurse: {},
    doctor: { inherits: ['nurse'] },
    auditor: {},
    admin: { inherits: ['doctor', 'auditor'] },
    contractor: {},
  },
  policies: [
    {
      id: 'clinical',
      rules: [
        {
          id: 'nurse-read-department',
          effect: 'allow',
          roles: ['nurse'],
          actions: ['patient:read'],
          resources: ['records/*'],
          when: { attr: 'resource.department', eq: { ref: 'subject.department' } },
        },
        {
          id: 'doctor-all-department',
          effect: 'allow',
          roles: ['doctor'],
          actions: ['patient:*'],
          resources: ['records/*'],
          when: { attr: 'resource.department', eq: { ref: 'subject.department' } },
        },
        {
          id: 'patient-own-record',
          effect: 'allow',
          roles: ['patient'],
          actions: ['patient:read'],
          resources: ['records/*'],
          when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
        },
        {
          id: 'create-record',
          effect: 'allow',
          roles: ['doctor'],
          actions: 'patient:create',
          resources: 'records',
        },
        {
          id: 'auditor-read-logs',
          effect: 'allow',
          roles: ['auditor'],
          actions: ['read'],
          resources: ['auditlogs'],
        },
        { id: 'admin-anything', effect: 'allow', roles: ['admin'], actions: ['*'], resources: ['settings'] },
      ],
    },
    {
      id: 'guards',
      rules: [
        {
          id: 'signed-records-immutable',
          effect: 'deny',
          roles: ['*'],
          actions: ['patient:delete', 'patient:update'],
          resources: ['records/*'],
          when: { attr: 'resource.status', eq: 'signed' },
          reasonId: 'record_signed',
        },
        { id: 'vip-locked', effect: 'deny', roles: ['*'], actions: ['*'], resources: ['records/vip-1'] },
        { id: 'no-contractors', effect: 'deny', roles: ['contractor'], actions: ['*'], resources: ['*'] },
      ],
    },
  ],
};

export const users = {
  alice: { id: 'alice', roles: ['nurse'], department: 'cardio' },
  bob: { id: 'bob', roles: ['doctor'], department: 'cardio' },
  carol: { id: 'carol', roles: ['doctor'], department: 'onco' },
  pat: { id: 'pat', roles: ['patient'] },
  dana: { id: 'dana', roles: ['auditor'] },
  root: { id: 'root', roles: ['admin'], department: 'cardio' },
  multi: { id: 'multi', roles: ['patient', 'auditor'] },
  eve: { id: 'eve', roles: ['doctor', 'contractor'], department: 'cardio' },
  ghost: { id: 'ghost', roles: ['superuser'], department: 'cardio' },
} satisfies Record<string, AuthzSubject>;

export const records = {
  r1: { type: 'records', id: 'r1', department: 'cardio', ownerId: 'pat', status: 'draft' },
  r2: { type: 'records', id: 'r2', department: 'onco', ownerId: 'someone', status: 'draft' },
  signed: { type: 'records', id: 'r3', department: 'cardio', ownerId: 'pat', status: 'signed' },
  vip: { type: 'records', id: 'vip-1', department: 'cardio', ownerId: 'pat', status: 'draft' },
  noOwner: { type: 'records', id: 'r4', department: 'cardio', status: 'draft' },
  typeOnly: { type: 'records' },
  logs: { type: 'auditlogs' },
  settings: { type: 'settings', id: 'smtp' },
} satisfies Record<string, AuthzResource>;

/** A clock the test moves by hand. */
export function manualClock(start: string): {
  clock: () => Date;
  set(iso: string): void;
  advance(ms: number): void;
} {
  let now = new Date(start).getTime();
  return {
    clock: () => new Date(now),
    set(iso) {
      now = new Date(iso).getTime();
    },
    advance(ms) {
      now += ms;
    },
  };
}
