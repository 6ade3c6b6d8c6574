/**
 * The ABY3 instance of a CLI command (private-train, private-predict): the
 * command's options, plus `--comparison-bits` as option comparisonBits, whose
 * refusal names the flag.
 */
import { ABY3, type ABY3Options, type Player } from '../encrypted/index.js';

export function aby3ForCli(servers: readonly [Player, Player, Player], options: ABY3Options, comparisonBits: number | undefined): ABY3 {
  try {
    return new ABY3(...servers, { ...options, ...(comparisonBits === undefined ? {} : { comparisonBits }) });
  } catch (e) {
    throw e instanceof RangeError && /comparisonBits/.test(e.message) ? new RangeError(`--comparison-bits ${comparisonBits}: ${e.message}`) : e;
  }
}
