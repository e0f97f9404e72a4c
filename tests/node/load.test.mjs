// Loopback load test: many concurrent streams through continuous batching finish with zero
// errors and more total tokens/s than one stream alone. Bounded in requests and in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runLoad, tableHeader, formatRow } from './bench_serving.mjs';

const binary = process.env.DSV3_BINARY;
const modelDir = `${process.env.DSV3_TEST_DATA}/models/v3-tiny`;
const slow = process.env.DSV3_SANITIZE === '1';  // ASan builds: fewer, shorter requests

test('32 concurrent streams: zero errors, more tokens/s than one stream', { timeout: 240000 }, async () => {
  const server = await startServer(binary, ['--model', modelDir, '--max-sequences', '32', '--max-queue', '64']);
  try {
    const common = { url: `http://127.0.0.1:${server.port}`, model: 'v3-tiny', maxTokens: slow ? 16 : 32, durationS: 90 };
    const one = await runLoad({ ...common, concurrency: 1, requests: slow ? 3 : 6 });
    const many = await runLoad({ ...common, concurrency: 32, requests: slow ? 32 : 64 });
    console.log(tableHeader + '\n' + formatRow(one) + '\n' + formatRow(many));
    assert.equal(one.errors, 0, JSON.stringify(one.firstError));
    assert.equal(many.errors, 0, JSON.stringify(many.firstError));
    assert.equal(many.requests, slow ? 32 : 64, 'every request ran within the time bound');
    assert.ok(many.tokPerS > one.tokPerS, `32 streams ${many.tokPerS.toFixed(1)} tok/s vs one ${one.tokPerS.toFixed(1)} tok/s`);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
