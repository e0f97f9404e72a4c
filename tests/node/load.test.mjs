// Loopback load test: many concurrent streams through continuous batching finish with zero
// errors, and the server really batched them: its /metrics show decode steps that carried
// several sequences at once (a count, not a race of tokens/s against one stream, so the result
// does not depend on how loaded the machine is). Bounded in requests and in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runLoad, tableHeader, formatRow } from './bench_serving.mjs';

const binary = process.env.DSV3_BINARY;
const modelDir = `${process.env.DSV3_TEST_DATA}/models/v3-tiny`;
const slow = process.env.DSV3_SANITIZE === '1';  // ASan builds: fewer, shorter requests

// The value of an unlabelled counter or gauge in Prometheus text.
async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `/metrics has no ${name}`);
  return Number(line.split(' ')[1]);
}

test('32 concurrent streams: zero errors, and they share decode steps', { timeout: 240000 }, async () => {
  const server = await startServer(binary, ['--model', modelDir, '--max-sequences', '32', '--max-queue', '64']);
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const common = { url, model: 'v3-tiny', maxTokens: slow ? 16 : 32, durationS: 90 };
    const steps0 = await metric(url, 'dsv3_steps_total');
    const seqs0 = await metric(url, 'dsv3_step_sequences_total');
    const many = await runLoad({ ...common, concurrency: 32, requests: slow ? 32 : 64 });
    const steps = (await metric(url, 'dsv3_steps_total')) - steps0;
    const seqs = (await metric(url, 'dsv3_step_sequences_total')) - seqs0;
    console.log(tableHeader + '\n' + formatRow(many));
    console.log(`${steps} batched steps carried ${seqs} sequence-steps (${(seqs / steps).toFixed(2)} per step)`);
    assert.equal(many.errors, 0, JSON.stringify(many.firstError));
    assert.equal(many.requests, slow ? 32 : 64, 'every request ran within the time bound');
    // 32 clients each waiting on their stream: one sequence per step would mean no batching.
    assert.ok(steps > 0 && seqs >= 2 * steps, `${seqs} sequence-steps over ${steps} steps: streams were not batched`);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
