import { definePolicy } from '@bulwark/core';

/**
 * Who may see what. Anything not allowed is denied; a deny overrides every allow.
 * - employee: their own record, salary and national id (and the directory entry of themselves);
 * - manager:  also the records and salaries of their direct reports (`resource.managerId`), never
 *             their national ids;
 * - hr-admin: every record, salary and national id; creates employees and changes salaries;
 *             verifies the audit trail; sees survey aggregates only.
 * Nobody changes their own salary, hr-admins included (segregation of duties: a deny that no
 * allow can override).
 */
export const hrPolicy = definePolicy({
  version: 1,
  roles: {
    employee: { description: 'Every member of staff' },
    manager: { inherits: ['employee'], description: 'Manages direct reports' },
    'hr-admin': { inherits: ['employee'], description: 'Human resources' },
  },
  policies: [
    {
      id: 'hr',
      rules: [
        {
          id: 'self',
          effect: 'allow',
          roles: ['employee'],
          actions: ['employee:read', 'salary:read', 'national-id:read'],
          resources: ['employees/*'],
          when: { attr: 'resource.id', eq: { ref: 'subject.id' } },
        },
        {
          id: 'direct-reports',
          effect: 'allow',
          roles: ['manager'],
          actions: ['employee:read', 'salary:read'],
          resources: ['employees/*'],
          when: { attr: 'resource.managerId', eq: { ref: 'subject.id' } },
        },
        {
          id: 'directory',
          effect: 'allow',
          roles: ['employee'],
          actions: ['employee:list'],
          resources: ['employees'],
        },
        {
          id: 'hr-records',
          effect: 'allow',
          roles: ['hr-admin'],
          actions: ['employee:*', 'salary:*', 'national-id:*'],
          resources: ['employees', 'employees/*'],
        },
        {
          id: 'hr-audit',
          effect: 'allow',
          roles: ['hr-admin'],
          actions: ['audit:verify', 'audit:read'],
          resources: ['audit'],
        },
        {
          id: 'survey-answer',
          effect: 'allow',
          roles: ['employee'],
          actions: ['survey:submit'],
          resources: ['surveys'],
        },
        {
          id: 'survey-summary',
          effect: 'allow',
          roles: ['hr-admin'],
          actions: ['survey:summary'],
          resources: ['surveys'],
        },
        {
          id: 'no-self-salary-change',
          effect: 'deny',
          roles: ['*'],
          actions: ['salary:update'],
          resources: ['employees/*'],
          when: { attr: 'resource.id', eq: { ref: 'subject.id' } },
          reasonId: 'no_self_approval',
        },
      ],
    },
  ],
});

export const wellbeingPurpose = {
  id: 'wellbeing-survey',
  name: 'Wellbeing survey',
  description: 'Anonymous-to-managers wellbeing survey; HR sees aggregates only.',
  version: 1,
  text: 'I agree that my answers to the wellbeing survey are stored and used, in aggregate, to improve working conditions. I can withdraw at any time.',
  dataCategories: ['wellbeing'],
};
