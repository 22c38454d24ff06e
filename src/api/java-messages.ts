/**
 * Messages of Kafka's Java `Errors` enum that its generic error responses carry as they are (the
 * protocol's own error table, protocol/error-codes.ts, has the shorter descriptions).
 */
export const INVALID_REQUEST_MESSAGE =
  'This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.';
