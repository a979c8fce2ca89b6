import { findByBlindIndex } from '@bulwark/typeorm';
import type { Repository } from 'typeorm';
import type { AnyUser } from './user.secured-entity';

/** How the app finds a user by e-mail (login, duplicate check): the one query the adoption rewrote. */
export interface EmailLookup {
  find(repository: Repository<AnyUser>, email: string): Promise<AnyUser | undefined>;
}

export const EMAIL_LOOKUP = Symbol('EMAIL_LOOKUP');

/** As found: a case-insensitive SQL comparison on the plaintext column. */
export const plaintextEmailLookup: EmailLookup = {
  async find(repository, email) {
    const user = await repository
      .createQueryBuilder('user')
      .where('LOWER(user.email) = LOWER(:email)', { email: email.trim() })
      .getOne();
    return user ?? undefined;
  },
};

/**
 * After adopting Bulwark: the e-mail is ciphertext, so a string condition on it would compare
 * against random envelopes and never match. The lookup goes through the blind index
 * (`emailIndex`, HMAC of the trimmed lower-cased e-mail) and `findByBlindIndex` confirms each
 * candidate by decrypting it, so a truncated index that collides never returns the wrong user.
 */
export const blindIndexEmailLookup: EmailLookup = {
  async find(repository, email) {
    const [user] = await findByBlindIndex(repository, 'emailIndex', email);
    return user;
  },
};
