/**
 * Start one player of a deployment from files: the building block of the
 * planned `fedcrypt player --config config.json --name server0 --key keys/server0.key`.
 */
import { ConfigError, loadConfig, playerEntry } from '../transport/config.js';
import { loadIdentity } from './keys.js';
import { GrpcTransport, type GrpcTransportOptions } from '../transport/grpc.js';

export interface PlayerOptions extends Omit<GrpcTransportOptions, 'config' | 'local'> {
  /** Path of config.json (every player needs a certificate on 'tls' links, a publicKey on 'noise' links). */
  configPath: string;
  /** Name of the player this process runs. */
  name: string;
  /** Path of the player's `.key` file (from keygen). */
  keyPath: string;
  /** Close the transport on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
}

/** Load config and key, check they belong together, and start serving. */
export async function startPlayer(options: PlayerOptions): Promise<GrpcTransport> {
  if (typeof options !== 'object' || options === null) throw new TypeError('startPlayer: "options" expected object');
  for (const k of ['configPath', 'name', 'keyPath'] as const) {
    if (typeof options[k] !== 'string' || options[k] === '') throw new TypeError(`startPlayer: "${k}" expected a non-empty string`);
  }
  const { configPath, name, keyPath, handleSignals = true, ...rest } = options;
  const config = loadConfig(configPath, { requireKeys: true });
  const entry = playerEntry(config, name);
  const identity = loadIdentity(keyPath);
  if (identity.name !== name) throw new ConfigError(`${keyPath}: key file is for player "${identity.name}", not "${name}"`, keyPath);
  if (config.links === 'tls') {
    if (!identity.tls) throw new ConfigError(`${keyPath}: key file has no TLS certificate (an old format); run "fedcrypt keygen --name ${name} --force" and update the config`, keyPath);
    if (!entry.certificate || Buffer.compare(Buffer.from(entry.certificate), Buffer.from(identity.tls.certificate.der)) !== 0) {
      throw new ConfigError(`players.${name}.certificate: does not match ${keyPath} (run keygen again or fix the config)`, `players.${name}.certificate`);
    }
  } else if (!entry.publicKey || Buffer.compare(Buffer.from(entry.publicKey), Buffer.from(identity.publicKey)) !== 0) {
    throw new ConfigError(`players.${name}.publicKey: does not match ${keyPath} (run keygen again or fix the config)`, `players.${name}.publicKey`);
  }
  const transport = new GrpcTransport({ ...rest, config, local: { name, identity, ...(identity.tls ? { tls: identity.tls } : {}) } });
  await transport.start();
  if (handleSignals) {
    const stop = () => void transport.close();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
  return transport;
}
