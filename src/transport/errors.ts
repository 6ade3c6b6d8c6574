/** Errors raised by transports. */
export class TransportError extends Error {
  override name = 'TransportError';
}
