import { expectTypeOf } from 'expect-type';
// The source entries ('@bulwark/core' would be the built dist here, which a typecheck may precede);
// dist-entries.test.ts checks that the package's exports map serves these very files.
import * as Main from '../../src';
import * as Http from '../../src/http';
import * as Inversify from '../../src/inversify';
import * as Store from '../../src/store';
import * as WebAuthn from '../../src/webauthn';
import type {
  HTTP_VALUES,
  INVERSIFY_VALUES,
  MAIN_VALUES,
  STORE_VALUES,
  WEBAUTHN_VALUES,
} from './public-surface';

// Compile-time twin of entries.test.ts: `npm run typecheck` fails when an entry's value exports
// differ from the decided list, or when a type moves to the wrong entry. (The assertions are
// no-ops at run time; the `it` below only makes jest accept the file.)

expectTypeOf<keyof typeof Main>().toEqualTypeOf<(typeof MAIN_VALUES)[number]>();
expectTypeOf<keyof typeof Http>().toEqualTypeOf<(typeof HTTP_VALUES)[number]>();
expectTypeOf<keyof typeof Store>().toEqualTypeOf<(typeof STORE_VALUES)[number]>();
expectTypeOf<keyof typeof Inversify>().toEqualTypeOf<(typeof INVERSIFY_VALUES)[number]>();
expectTypeOf<keyof typeof WebAuthn>().toEqualTypeOf<(typeof WEBAUTHN_VALUES)[number]>();
expectTypeOf<WebAuthn.WebAuthnStore>().toEqualTypeOf<Store.WebAuthnStore>();

// One class per concept whichever entry it comes through: an adapter's instanceof holds.
expectTypeOf(Http.BulwarkHttpError).toEqualTypeOf(Main.BulwarkHttpError);
expectTypeOf<Http.TrustProxyOption>().toEqualTypeOf<Main.TrustProxyOption>();
expectTypeOf<Store.AuditStore>().toEqualTypeOf<Main.AuditStore>();
expectTypeOf<Store.KeyStore>().toEqualTypeOf<Main.KeyStore>();

// The shapes the entries promise.
expectTypeOf(Main.createBulwark).returns.resolves.toEqualTypeOf<Main.Bulwark>();
expectTypeOf(Main.envelopeKind).parameter(0).toBeUnknown();
expectTypeOf(Main.envelopeKind).returns.toEqualTypeOf<Main.EnvelopeKind | undefined>();
expectTypeOf<Main.ErrorCode>().toEqualTypeOf<(typeof Main.ErrorCodes)[keyof typeof Main.ErrorCodes]>();
expectTypeOf(Http.problemFor).returns.toEqualTypeOf<Http.ProblemResponse>();
expectTypeOf(Store.normalizeAuditQuery).returns.toEqualTypeOf<Store.NormalizedAuditQuery>();
expectTypeOf(Inversify.bulwarkContainerModule).parameter(0).toEqualTypeOf<Main.Bulwark>();

// Kernel, store-implementer and container names are not the user's API.
// @ts-expect-error the adapter kernel lives in '@bulwark/core/http'
export type NoKernelInMain = Main.BulwarkBundlePlan;
// @ts-expect-error store records live in '@bulwark/core/store'
export type NoStoreRecordsInMain = Main.StoredKey;
// @ts-expect-error store records live in '@bulwark/core/store'
export type NoQueryInternalsInMain = Main.NormalizedAuditQuery;
// @ts-expect-error adapter codes live with their adapter (@bulwark/typeorm's TypeOrmErrorCodes)
export type NoAdapterCodesInCore = (typeof Main.ErrorCodes)['TYPEORM_UNSUPPORTED_QUERY'];

it('pins the public surface at compile time (see the expectTypeOf assertions above)', () => {
  expect(Object.keys(Inversify).sort()).toEqual(['BULWARK_TYPES', 'bulwarkContainerModule']);
});
