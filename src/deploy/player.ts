/**
 * Start one player of a deployment from files: the building block of
 * `fedcrypt player --config config.json --name server0 --key keys/server0.key`.
 */
import { ConfigError, loadConfig, playerEntry, type DeployConfig } from '../transport/config.js';
import { loadIdentity, type PlayerIdentity } from './keys.js';
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

/**
 * Load player `name`'s key file and check it against the config: the file is
 * for that player, and its certificate ('tls' links) or public key ('noise')
 * is the one the config pins. Every problem is a ConfigError naming the
 * player, the key file and the config file, and saying how to fix it.
 */
export function checkPlayerKey(config: DeployConfig, name: string, keyPath: string, configPath = 'the config'): PlayerIdentity {
  const entry = playerEntry(config, name);
  const identity = loadIdentity(keyPath, { name });
  if (identity.name !== name) throw new ConfigError(`${keyPath}: key file is for player "${identity.name}", not "${name}" (use keys/${name}.key, or pass --key)`, keyPath);
  const fix = `rebuild ${configPath} from this player's current public files with "fedcrypt config", or use the key file the config's ${config.links === 'tls' ? 'certificate' : 'key'} was made with`;
  if (config.links === 'tls') {
    if (!identity.tls) throw new ConfigError(`${keyPath}: player "${name}"'s key file has no TLS certificate (an old format); run "fedcrypt keygen --name ${name} --force" and rebuild the config with "fedcrypt config"`, keyPath);
    if (!entry.certificate || Buffer.compare(Buffer.from(entry.certificate), Buffer.from(identity.tls.certificate.der)) !== 0) {
      throw new ConfigError(`player "${name}": ${keyPath} does not match the certificate ${configPath} pins for it (players.${name}.certificate); ${fix}`, `players.${name}.certificate`);
    }
  } else if (!entry.publicKey || Buffer.compare(Buffer.from(entry.publicKey), Buffer.from(identity.publicKey)) !== 0) {
    throw new ConfigError(`player "${name}": ${keyPath} does not match the public key ${configPath} pins for it (players.${name}.publicKey); ${fix}`, `players.${name}.publicKey`);
  }
  return identity;
}

/** Load config and key, check they belong together, and start serving. */
export async function startPlayer(options: PlayerOptions): Promise<GrpcTransport> {
  if (typeof options !== 'object' || options === null) throw new TypeError('startPlayer: "options" expected object');
  for (const k of ['configPath', 'name', 'keyPath'] as const) {
    if (typeof options[k] !== 'string' || options[k] === '') throw new TypeError(`startPlayer: "${k}" expected a non-empty string`);
  }
  const { configPath, name, keyPath, handleSignals = true, ...rest } = options;
  const config = loadConfig(configPath, { requireKeys: true });
  const identity = checkPlayerKey(config, name, keyPath, configPath);
  const transport = new GrpcTransport({ ...rest, config, local: { name, identity, ...(identity.tls ? { tls: identity.tls } : {}) } });
  await transport.start();
  if (handleSignals) {
    const stop = () => void transport.close();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
  return transport;
}
