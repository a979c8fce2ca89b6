import { BulwarkAlertError, ErrorCodes } from '../errors';

/**
 * A channel's failure, naming the channel and a non-secret reason only: webhook URLs (Slack's
 * carry a token), SMTP replies and bus errors may hold secrets or addresses, so they go in `cause`.
 */
export function deliveryError(
  channel: string,
  reason: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
): BulwarkAlertError {
  return new BulwarkAlertError(
    ErrorCodes.ALERT_DELIVERY_FAILED,
    `alert channel '${channel}' failed: ${reason}`,
    { channel, reason, ...details },
    cause === undefined ? undefined : { cause },
  );
}
