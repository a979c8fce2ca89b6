import type { BearerRevocationCheck, BearerTokenVerifier } from './bearer-authenticator';
import type { CorsOptions } from './cors-policy';
import type { CsrfProtection } from './csrf-protection';
import type { FetchMetadataOptions } from './fetch-metadata-policy';
import { HttpTrafficRecorder } from './http-app-evidence';
import type { InputGuardOptions } from './input-guard';
import { isPublicPath, type BulwarkBundlePlan } from './plan-bulwark-bundle';
import type { RequestIdOptions } from './request-arrival';
import type { RateLimitOptions } from './request-rate-limiter';
import type { RequestAuditorOptions } from './request-auditor';
import type { SecurityHeaderOptions } from './security-header-options';

/**
 * How an adapter makes each step of the bundle in its framework's middleware type `H`.
 * `unless` wraps a middleware so requests whose path matches are passed on without it.
 */
export interface BundleStepFactories<H, Auth extends object, Csrf extends object> {
  requestId(options: RequestIdOptions): H;
  securityHeaders(options: SecurityHeaderOptions): H & { readonly headers: Readonly<Record<string, string>> };
  audit(options: RequestAuditorOptions): H & { close(): Promise<void> };
  cors(options: CorsOptions): H;
  fetchMetadata(options: FetchMetadataOptions): H;
  inputGuard(options: InputGuardOptions): H;
  rateLimit(options: RateLimitOptions): H;
  authenticate(
    options: Omit<Auth, 'publicPaths'> & { tokens: BearerTokenVerifier; revocation?: BearerRevocationCheck },
  ): H;
  csrf(options: Csrf): H & { readonly protection?: CsrfProtection };
  unless(middleware: H, skip: (path: string) => boolean): H;
}

/** The bundle's middlewares in run order, with what the bundle reports about them. */
export interface BundleSteps<H> {
  /** Every step after problemDetails (which the bundle itself is), in order. */
  readonly steps: readonly H[];
  /** The headers the securityHeaders step sets ({} when off), for compliance evidence. */
  readonly headers: Readonly<Record<string, string>>;
  /** Flushes the audit step's pending events (a no-op when audit is off). */
  close(): Promise<void>;
  /**
   * Counts what the bundle does on real traffic (compliance evidence): the adapter calls
   * `recorder.request(req, res)` once per request as the bundle starts on it.
   */
  readonly recorder: HttpTrafficRecorder;
}

/**
 * Builds the steps of a plan in `plan.order` with the adapter's factories, so both adapters run
 * the same steps in the same order and only say how one step is made in their framework.
 */
export function assembleBundleSteps<H, Auth extends object, Csrf extends object>(
  plan: BulwarkBundlePlan<Auth, Csrf>,
  make: BundleStepFactories<H, Auth, Csrf>,
  name = 'app',
): BundleSteps<H> {
  const recorder = new HttpTrafficRecorder({
    name,
    csrf: plan.csrfEvidence,
    trustProxy: plan.trustProxy,
  });
  const steps: H[] = [];
  let headers: Readonly<Record<string, string>> = {};
  let close = async (): Promise<void> => {};
  for (const step of plan.order) {
    if (step === 'requestId') steps.push(make.requestId({ trustProxy: plan.trustProxy }));
    else if (step === 'securityHeaders' && plan.securityHeaders !== undefined) {
      const mw = make.securityHeaders(plan.securityHeaders);
      headers = mw.headers;
      steps.push(mw);
    } else if (step === 'audit' && plan.audit !== undefined) {
      const mw = make.audit(plan.audit);
      close = () => mw.close();
      steps.push(mw);
    } else if (step === 'cors' && plan.cors !== undefined) {
      steps.push(make.cors(plan.cors));
    } else if (step === 'fetchMetadata' && plan.fetchMetadata !== undefined) {
      steps.push(make.fetchMetadata(plan.fetchMetadata));
    } else if (step === 'rateLimit' && plan.rateLimit !== undefined) {
      steps.push(make.rateLimit(plan.rateLimit));
    } else if (step === 'inputGuard' && plan.inputGuard !== undefined) {
      steps.push(make.inputGuard(plan.inputGuard));
    } else if (step === 'authenticate' && plan.authenticate !== undefined) {
      const { options, publicPaths } = plan.authenticate;
      const mw = make.authenticate(options);
      steps.push(publicPaths.length === 0 ? mw : make.unless(mw, (p) => isPublicPath(p, publicPaths)));
    } else if (step === 'csrf' && plan.csrf !== undefined) {
      const mw = make.csrf(plan.csrf);
      mw.protection?.observe(recorder);
      steps.push(mw);
    }
  }
  return { steps, headers, close, recorder };
}
