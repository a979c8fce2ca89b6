import { randomUUID } from 'node:crypto';
import type { PasswordHasher } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { ClinicalNote } from './entities/clinical-note';
import { ClinicUser, type ClinicRole } from './entities/clinic-user';
import { Patient } from './entities/patient';

export interface DemoUser {
  username: string;
  password: string;
  role: ClinicRole;
  displayName: string;
}

/**
 * Demo logins (documented in the README). DEMO ONLY: real deployments create accounts through
 * their own onboarding, never with known passwords.
 */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  { username: 'dr.grey', password: 'grey-demo-password', role: 'doctor', displayName: 'Dr. Meredith Grey' },
  { username: 'nurse.joy', password: 'joy-demo-password', role: 'nurse', displayName: 'Nurse Joy' },
  {
    username: 'auditor.ames',
    password: 'ames-demo-password',
    role: 'auditor',
    displayName: 'Ames (compliance)',
  },
  {
    username: 'dr.curie',
    password: 'curie-demo-password',
    role: 'researcher',
    displayName: 'Dr. Marie Curie',
  },
  {
    username: 'dpo.dana',
    password: 'dana-demo-password',
    role: 'privacy-officer',
    displayName: 'Dana (DPO)',
  },
  { username: 'alice', password: 'alice-demo-password', role: 'patient', displayName: 'Alice Martin' },
  { username: 'bob', password: 'bob-demo-password', role: 'patient', displayName: 'Bob Okafor' },
]);

const DEMO_PATIENTS: Record<
  string,
  Omit<Patient, 'id' | 'createdAt' | 'fullName' | 'emailIndex' | 'ssnIndex'>
> = {
  alice: {
    email: 'alice.martin@example.com',
    ssn: '123-45-6789',
    dateOfBirth: '1984-03-02',
    diagnosis: 'Type 2 diabetes mellitus',
    ward: 'B2',
  },
  bob: {
    email: 'bob.okafor@example.com',
    ssn: '987-65-4321',
    dateOfBirth: '1990-11-23',
    diagnosis: 'Moderate persistent asthma',
    ward: 'A1',
  },
};

/**
 * Seeds the demo users, two patients and a note each, once (when there are no users). Returns the
 * number of users created. Entity writes go through the encryption subscriber like any app write.
 */
export async function seedDemoData(dataSource: DataSource, passwords: PasswordHasher): Promise<number> {
  const users = dataSource.getRepository(ClinicUser);
  if ((await users.count()) > 0) return 0;
  const now = new Date().toISOString();
  const actor = { id: 'seed', type: 'system' as const };
  let doctorId = '';
  for (const demo of DEMO_USERS) {
    const id = randomUUID();
    if (demo.role === 'doctor') doctorId = id;
    const patient = DEMO_PATIENTS[demo.username];
    if (patient !== undefined) {
      await dataSource
        .getRepository(Patient)
        .save(Object.assign(new Patient(), { ...patient, id, fullName: demo.displayName, createdAt: now }), {
          data: { actor },
        });
    }
    await users.save(
      Object.assign(new ClinicUser(), {
        id,
        username: demo.username,
        passwordHash: await passwords.hash(demo.password),
        role: demo.role,
        displayName: demo.displayName,
      }),
    );
  }
  const patients = await dataSource.getRepository(Patient).find();
  for (const p of patients) {
    await dataSource.getRepository(ClinicalNote).save(
      Object.assign(new ClinicalNote(), {
        id: randomUUID(),
        patientId: p.id,
        authorId: doctorId,
        body: `Initial assessment: ${p.diagnosis}. Review in three months.`,
        createdAt: now,
      }),
      { data: { actor } },
    );
  }
  return DEMO_USERS.length;
}
