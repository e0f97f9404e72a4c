// The official openai npm client against dsv3 serve: models, non-streaming and streaming
// completions equal to `dsv3 generate`, cancellation by aborting a stream, and API errors
// surfacing as the client's typed exceptions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import { startServer } from './bench_serving.mjs';

const binary = process.env.DSV3_BINARY;
const modelDir = `${process.env.DSV3_TEST_DATA}/models/v3-tiny`;
let server, client;

function generateIds(tokens, n) {
  const out = execFileSync(binary, ['generate', '--model', modelDir, '--tokens', tokens, '--max-new-tokens', String(n),
                                    '--temperature', '0', '--ids']);
  return out.toString().split('\n')[0];
}

async function metric(name) {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const m = text.match(new RegExp(`\\n${name} ([0-9.eE+-]+)`));
  return m ? Number(m[1]) : NaN;
}

before(async () => {
  server = await startServer(binary, ['--model', modelDir, '--api-key', 'test-key']);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: 'test-key', maxRetries: 0, timeout: 60000 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'dsv3 serve exits cleanly on SIGTERM');
});

test('lists the model', async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['v3-tiny']);
});

test('non-streaming greedy completion equals dsv3 generate', async () => {
  const r = await client.completions.create({ model: 'v3-tiny', prompt: [5, 9, 13], max_tokens: 16, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, generateIds('5,9,13', 16));
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.deepEqual(r.usage, { prompt_tokens: 3, completion_tokens: 16, total_tokens: 19 });
});

test('streaming greedy completion equals dsv3 generate', async () => {
  const stream = await client.completions.create({
    model: 'v3-tiny', prompt: [7, 8, 9], max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text;
      finish = c.finish_reason ?? finish;
    }
    ++chunks;
  }
  assert.ok(chunks >= 12, 'one chunk per token at least');
  assert.equal(text, generateIds('7,8,9', 12));
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 12);
});

test('aborting a stream cancels the sequence on the server', async () => {
  const before = await metric('dsv3_cancelled_sequences_total');
  const stream = await client.completions.create({
    model: 'v3-tiny', prompt: [5], max_tokens: 100000, temperature: 0, stream: true, ignore_eos: true,
  });
  let seen = 0;
  for await (const chunk of stream) {
    if (++seen === 3) break;  // leaving the loop aborts the request
  }
  let cancelled = before;
  for (let i = 0; i < 200 && cancelled <= before; ++i) {
    await new Promise((r) => setTimeout(r, 50));
    cancelled = await metric('dsv3_cancelled_sequences_total');
  }
  assert.ok(cancelled > before, 'the server counted the cancellation');
  assert.equal(await metric('dsv3_running_sequences'), 0);
});

test('API errors become typed exceptions', async () => {
  await assert.rejects(client.completions.create({ model: 'nope', prompt: [1], max_tokens: 2 }), OpenAI.NotFoundError);
  await assert.rejects(client.completions.create({ model: 'v3-tiny', prompt: [1], max_tokens: -1 }), OpenAI.BadRequestError);
  await assert.rejects(client.chat.completions.create({ model: 'v3-tiny', messages: [] }), OpenAI.BadRequestError);
  const anonymous = new OpenAI({ baseURL: client.baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(anonymous.models.list(), OpenAI.AuthenticationError);
});
