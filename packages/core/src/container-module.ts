import { ContainerModule } from 'inversify';
import type { Bulwark } from './bulwark';
import type { KeyRing } from './crypto/key-ring';
import type { PasswordHasher } from './crypto/password-hasher';
import type { TokenService } from './tokens/token-service';

/**
 * Service identifiers under which `bulwarkContainerModule` binds the services. Symbols from the
 * global registry, so two copies of @bulwark/core in one app still agree on them.
 */
export const BULWARK_TYPES = {
  Bulwark: Symbol.for('bulwark.Bulwark'),
  KeyRing: Symbol.for('bulwark.KeyRing'),
  PasswordHasher: Symbol.for('bulwark.PasswordHasher'),
  TokenService: Symbol.for('bulwark.TokenService'),
} as const;

/**
 * An inversify ContainerModule binding an already created Bulwark (see `createBulwark`) and each
 * of its services as constant values. Services that are not configured are not bound, so
 * `@inject(BULWARK_TYPES.TokenService)` fails at resolution time instead of yielding undefined.
 *
 * ```ts
 * const bulwark = await createBulwark(config);
 * const container = new Container();
 * await container.load(bulwarkContainerModule(bulwark));
 * ```
 */
export function bulwarkContainerModule(bulwark: Bulwark): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<Bulwark>(BULWARK_TYPES.Bulwark).toConstantValue(bulwark);
    bind<PasswordHasher>(BULWARK_TYPES.PasswordHasher).toConstantValue(bulwark.passwords);
    if (bulwark.keyRing) bind<KeyRing>(BULWARK_TYPES.KeyRing).toConstantValue(bulwark.keyRing);
    if (bulwark.tokens) bind<TokenService>(BULWARK_TYPES.TokenService).toConstantValue(bulwark.tokens);
  });
}
