import { definePolicy } from '@bulwark/core';

/**
 * Who may do what (RBAC with one ABAC condition). Deny overrides allow; anything not allowed here
 * is denied by default. HIPAA 164.312(a)(1) access control / 164.502(b) minimum necessary:
 * nurses see demographics but not clinical notes, auditors see the trail but no PHI.
 */
export const CLINIC_POLICY = definePolicy({
  version: 1,
  roles: {
    nurse: { description: 'Ward staff: demographics and lookups' },
    doctor: { inherits: ['nurse'], description: 'Treating clinician: also notes and record changes' },
    patient: { description: 'A patient: their own record only' },
    auditor: { description: 'Compliance: audit trail and reports, never PHI' },
    researcher: { description: 'De-identified data of consenting patients' },
    'privacy-officer': { description: 'Runs data-subject requests' },
  },
  policies: [
    {
      id: 'clinical',
      rules: [
        {
          id: 'staff-read-demographics',
          effect: 'allow',
          roles: ['nurse'],
          actions: ['patient:list', 'patient:read', 'patient:search'],
          resources: ['patients', 'patients/*'],
        },
        {
          id: 'doctor-write',
          effect: 'allow',
          roles: ['doctor'],
          actions: ['patient:create', 'patient:update', 'note:read', 'note:create'],
          resources: ['patients', 'patients/*'],
        },
        {
          id: 'patient-owns-record',
          effect: 'allow',
          roles: ['patient'],
          actions: ['patient:read', 'note:read'],
          resources: ['patients/*'],
          when: { attr: 'resource.id', eq: { ref: 'subject.id' } },
        },
      ],
    },
    {
      id: 'oversight',
      rules: [
        {
          id: 'auditor-trail',
          effect: 'allow',
          roles: ['auditor'],
          actions: ['audit:read', 'audit:verify', 'audit:checkpoint', 'compliance:read'],
          resources: ['audit', 'compliance'],
        },
        {
          id: 'officer-attest',
          effect: 'allow',
          roles: ['privacy-officer'],
          actions: ['compliance:attest'],
          resources: ['compliance'],
        },
        {
          id: 'officer-dsr',
          effect: 'allow',
          roles: ['privacy-officer'],
          actions: ['dsr:list', 'dsr:read', 'dsr:erase'],
          resources: ['dsr', 'dsr/*'],
        },
        {
          id: 'researcher-cohort',
          effect: 'allow',
          roles: ['researcher'],
          actions: ['research:read'],
          resources: ['research'],
        },
      ],
    },
    {
      id: 'separation-of-duties',
      rules: [
        {
          id: 'auditors-never-read-phi',
          effect: 'deny',
          roles: ['auditor', 'researcher'],
          actions: ['patient:*', 'note:*'],
          resources: ['patients', 'patients/*'],
          reasonId: 'separation_of_duties',
        },
      ],
    },
  ],
});
