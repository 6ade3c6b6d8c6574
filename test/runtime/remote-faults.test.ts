/**
 * Naming the player a failed remote invocation is about (faults.ts): the
 * first failure the driver sees is often another player's, which lost its
 * link to the one that died; the driver names the player the best evidence
 * points to, and never reclassifies a policy refusal. Also the players' side:
 * a failure reply carries the peer a player lost (and how), nothing else.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError } from '../../src/core/errors.js';
import { diagnose, RemoteCommandError, RemotePlayerError } from '../../src/runtime/remote/faults.js';
import { describeFailure } from '../../src/runtime/remote/player.js';
import { PeerError } from '../../src/transport/errors.js';

const lostAtDriver = (p: string) => new PeerError(`receive: link from '${p}' closed (peer ended the stream) while 'model-owner' waited for '${p}' under key 'exec/x/3/reply'`, p);
const deadlineAtDriver = (p: string) => new PeerError(`receive: nothing from '${p}' to 'model-owner' under key 'exec/x/3/reply' within 5000 ms`, p);

describe('remote faults: which player', () => {
  it("a data owner's report of a lost link comes first; the driver's own lost link to server1 names server1", () => {
    const first = new RemoteCommandError('owner0', 'aggregate', "owner0: send: link from 'owner0' to 'server1' lost (x)", 'server1', 'lost');
    const e = diagnose(first, [{ at: 'owner0', error: first }, { at: 'model-owner', error: lostAtDriver('server1') }]);
    assert.ok(e instanceof RemotePlayerError);
    assert.equal(e.player, 'server1');
    assert.equal(e.how, 'link lost');
    assert.match(e.message, /^player 'server1': link lost \(receive: link from 'server1' closed/);
  });

  it('with only reports from players, the peer they lost is named, with who reported it; a report beats a deadline', () => {
    const first = new RemoteCommandError('server0', 'aggregate', "server0: receive: nothing from 'server2' within 5000 ms", 'server2', 'deadline');
    const report = new RemoteCommandError('owner1', 'aggregate', "owner1: send: link from 'owner1:0' to 'server1' lost", 'server1', 'lost');
    const e = diagnose(first, [{ at: 'server0', error: first }, { at: 'owner1', error: report }]);
    assert.ok(e instanceof RemotePlayerError);
    assert.equal(e.player, 'server1');
    assert.equal(e.how, 'reported');
    assert.match(e.message, /reported by 'owner1'/);
  });

  it("a player's own failure beats a deadline; alone, it is reported as it came (the player that failed)", () => {
    const own = new RemoteCommandError('owner2', 'map', "owner2: RangeError (details in owner2's log)");
    assert.equal(diagnose(own, [{ at: 'owner2', error: own }]), own);
    const e = diagnose(deadlineAtDriver('server2'), [{ at: 'model-owner', error: deadlineAtDriver('server2') }, { at: 'owner2', error: own }]);
    assert.equal(e, own);
    const d = diagnose(deadlineAtDriver('server2'), []);
    assert.ok(d instanceof RemotePlayerError);
    assert.equal(d.player, 'server2');
    assert.equal(d.how, 'deadline');
    assert.match(d.message, /^player 'server2': no answer in time/);
  });

  it('a policy refusal is never reclassified, wherever it is among the failures', () => {
    const refusal = new PolicyError('minContributors', '2 clients, fewer than the minimum of 3', { party: 'owner0' });
    assert.equal(diagnose(refusal, [{ at: 'model-owner', error: lostAtDriver('server1') }]), refusal);
    assert.equal(diagnose(lostAtDriver('server1'), [{ at: 'model-owner', error: lostAtDriver('server1') }, { at: 'owner0', error: refusal }]), refusal);
  });

  it('an error that names no player is reported as it came', () => {
    const e = new RangeError('aggregate: 3 weights for 4 clients');
    assert.equal(diagnose(e, [{ at: 'model-owner', error: e }]), e);
  });
});

describe("remote faults: what a player's failure reply says", () => {
  it('a lost link or a deadline: the peer and how, no message; anything else: neither class nor message', () => {
    assert.deepEqual(describeFailure(lostAtDriver('server1'), 'server0'), {
      error: "server0: the command failed (details in server0's log)", party: 'server0', peer: 'server1', peerFailure: 'lost',
    });
    assert.equal(describeFailure(deadlineAtDriver('server2'), 'server0').peerFailure, 'deadline');
    // an error that may quote a value: neither its class nor its message, no peer
    assert.deepEqual(describeFailure(new RangeError('element 3 is 1e300'), 'owner0'), { error: "owner0: the command failed (details in owner0's log)", party: 'owner0' });
  });
});
