import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { stepUpRequirement, type StepUpRequirement } from '@bulwark/core/http';

/** Metadata key of `@RequireRecentAuth()`. */
export const BULWARK_REQUIRE_RECENT_AUTH = 'bulwark:require-recent-auth';

/**
 * Step-up for a sensitive route (ASVS 5.0 V6.3.3, V7.5.1): the caller must have signed in or
 * proved a second factor at most `maxAgeSec` ago (a number), and / or proved one of `factors`,
 * as `principal.authentication` says (sessions, sign-in paths, or a bearer token's `auth_time` /
 * `amr`). Otherwise 401 ERR_MFA_STEP_UP_REQUIRED with `WWW-Authenticate: Bearer
 * error="insufficient_user_authentication", max_age="..."` (RFC 9470). A method's own decorator
 * replaces its controller's. Checked at decoration time (a bad value fails the boot).
 *
 * @example @RequireRecentAuth(300)
 * @example @RequireRecentAuth({ factors: ['webauthn'], maxAgeSec: 600 })
 */
export function RequireRecentAuth(requirement: number | StepUpRequirement): CustomDecorator<string> {
  return SetMetadata(BULWARK_REQUIRE_RECENT_AUTH, stepUpRequirement(requirement, 'RequireRecentAuth'));
}
