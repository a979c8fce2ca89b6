import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { AppTokens } from '../auth/app-tokens';
import { checkPassword, DUMMY_HASH, hashPassword } from '../auth/passwords';
import { AppNotFoundException, AppValidationException, FieldCheck, wrapped } from '../errors';
import { EMAIL_LOOKUP, type EmailLookup } from './email-lookup';
import type { AnyUser } from './user.secured-entity';

export const USER_ENTITY = Symbol('USER_ENTITY');

const USERNAME = /^[A-Za-z0-9_-]{1,40}$/;
const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,189}$/;

export interface UserJson {
  username: string;
  email: string;
  bio: string | null;
  token: string;
}

/** Registration, login, the current user and public profiles (RealWorld-style, as found). */
@Injectable()
export class UsersService {
  readonly users: Repository<AnyUser>;

  constructor(
    @Inject(DataSource) dataSource: DataSource,
    @Inject(USER_ENTITY) entity: new () => AnyUser,
    @Inject(EMAIL_LOOKUP) private readonly byEmail: EmailLookup,
    @Inject(AppTokens) private readonly tokens: AppTokens,
  ) {
    this.users = dataSource.getRepository(entity);
  }

  async register(body: unknown): Promise<{ user: UserJson }> {
    const input = wrapped(body, 'user');
    const check = new FieldCheck();
    const username = check.text(input, 'username', 40);
    const email = check.text(input, 'email', 254);
    const password = check.text(input, 'password', 200);
    const bio = this.bio(input, check);
    if (username !== undefined && !USERNAME.test(username))
      check.add('username', 'is invalid (letters, digits, - and _)');
    if (email !== undefined && !EMAIL.test(email)) check.add('email', 'is invalid');
    if (password !== undefined && password.length < 8)
      check.add('password', 'is too short (minimum is 8 characters)');
    check.throwIfAny();
    await this.unique(check, username!, email!);
    check.throwIfAny();
    const user = await this.users.save(
      this.users.create({
        username: username!,
        email: email!,
        bio: bio ?? null,
        passwordHash: await hashPassword(password!),
      }),
    );
    return { user: await this.json(user) };
  }

  async login(body: unknown): Promise<{ user: UserJson }> {
    const input = wrapped(body, 'user');
    const check = new FieldCheck();
    const email = check.text(input, 'email', 254);
    const password = check.text(input, 'password', 200);
    check.throwIfAny();
    const user = await this.byEmail.find(this.users, email!);
    // The same scrypt work for an unknown e-mail, and one answer for both failures (no enumeration).
    const ok = await checkPassword(password!, user?.passwordHash ?? DUMMY_HASH);
    if (user === undefined || !ok) throw new AppValidationException({ 'email or password': ['is invalid'] });
    return { user: await this.json(user) };
  }

  async current(id: number): Promise<{ user: UserJson }> {
    return { user: await this.json(await this.found(id)) };
  }

  async update(id: number, body: unknown): Promise<{ user: UserJson }> {
    const user = await this.found(id);
    const input = wrapped(body, 'user');
    const check = new FieldCheck();
    const email = check.text(input, 'email', 254, false);
    const bio = this.bio(input, check);
    const password = check.text(input, 'password', 200, false);
    if (email !== undefined && !EMAIL.test(email)) check.add('email', 'is invalid');
    if (password !== undefined && password.length < 8)
      check.add('password', 'is too short (minimum is 8 characters)');
    check.throwIfAny();
    if (email !== undefined) {
      const other = await this.byEmail.find(this.users, email);
      if (other !== undefined && other.id !== user.id) check.add('email', 'has already been taken');
      check.throwIfAny();
      user.email = email;
    }
    if (bio !== undefined) user.bio = bio;
    if (password !== undefined) user.passwordHash = await hashPassword(password);
    return { user: await this.json(await this.users.save(user)) };
  }

  async profile(username: string): Promise<{ profile: { username: string; bio: string | null } }> {
    const user = await this.users.findOneBy({ username });
    if (user === null) throw new AppNotFoundException('profile');
    return { profile: { username: user.username, bio: user.bio } };
  }

  /** `bio`: absent (unchanged), null, or a string of at most 1000 characters. */
  private bio(input: Record<string, unknown>, check: FieldCheck): string | null | undefined {
    const bio = input.bio;
    if (bio === undefined || bio === null) return bio;
    if (typeof bio !== 'string') check.add('bio', 'must be a string');
    else if (bio.length > 1000) check.add('bio', 'is too long (maximum is 1000 characters)');
    else return bio;
    return undefined;
  }

  private async unique(check: FieldCheck, username: string, email: string): Promise<void> {
    if ((await this.users.findOneBy({ username })) !== null) check.add('username', 'has already been taken');
    if ((await this.byEmail.find(this.users, email)) !== undefined)
      check.add('email', 'has already been taken');
  }

  private async found(id: number): Promise<AnyUser> {
    const user = await this.users.findOneBy({ id });
    if (user === null) throw new AppNotFoundException('user');
    return user;
  }

  private async json(user: AnyUser): Promise<UserJson> {
    return {
      username: user.username,
      email: user.email,
      bio: user.bio,
      token: await this.tokens.sign({ id: user.id, username: user.username }),
    };
  }
}
