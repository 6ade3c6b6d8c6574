/** Errors raised by transports. */
export class TransportError extends Error {
  override name = 'TransportError';
}

/** A TransportError that names the peer concerned. */
export class PeerError extends TransportError {
  override name = 'PeerError';
  constructor(message: string, readonly peer: string) {
    super(message);
  }
}
