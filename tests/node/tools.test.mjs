// The official openai npm client against dsv3 serve on the default model (DeepSeek-V3's chat
// template and special tokens): a tool round trip (a forced call, returned and streamed, its
// result sent back), a call required among several tools, structured output parsed by the
// client, and the reasoning split.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer } from './bench_serving.mjs';

const binary = process.env.DSV3_BINARY;
const modelDir = `${process.env.DSV3_TEST_DATA}/../../models/default`;
let server, client;

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city now',
    parameters: {
      type: 'object',
      properties: { city: { enum: ['Paris', 'Tokyo'] }, unit: { enum: ['celsius', 'fahrenheit'] } },
      required: ['city', 'unit'],
    },
  },
}];
const question = [{ role: 'user', content: 'What is the weather in Paris?' }];
const forced = { type: 'function', function: { name: 'get_weather' } };

before(async () => {
  server = await startServer(binary, ['--model', modelDir, '--name', 'default']);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: 'none', maxRetries: 0, timeout: 60000 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'dsv3 serve exits cleanly on SIGTERM');
});

function checkArguments(text) {
  const args = JSON.parse(text);
  assert.ok(['Paris', 'Tokyo'].includes(args.city), text);
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit), text);
}

test('a tool round trip: the forced call, then its result in the history', async () => {
  const r = await client.chat.completions.create({
    model: 'default', messages: question, tools, tool_choice: forced, temperature: 0, max_tokens: 64,
  });
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.match(call.id, /^call_/);
  checkArguments(call.function.arguments);

  const reply = await client.chat.completions.create({
    model: 'default', tools, temperature: 0, max_tokens: 16,
    messages: [...question, choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 18}' }],
  });
  assert.equal(reply.choices[0].message.role, 'assistant');
  assert.ok(reply.usage.prompt_tokens > r.usage.prompt_tokens);
});

test('a streamed tool call: the client assembles the argument deltas', async () => {
  const stream = client.beta.chat.completions.stream({
    model: 'default', messages: question, tools, tool_choice: forced, temperature: 0, max_tokens: 64,
  });
  let deltas = 0;
  stream.on('tool_calls.function.arguments.delta', () => ++deltas);
  const final = await stream.finalChatCompletion();
  const call = final.choices[0].message.tool_calls[0];
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.equal(call.function.name, 'get_weather');
  checkArguments(call.function.arguments);
  assert.ok(deltas > 2, `arguments arrived in ${deltas} deltas`);
});

test('tool_choice "required" with several tools: each call is one of them, with its arguments', async () => {
  const several = [...tools, {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: { type: 'object', properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'] },
    },
  }];
  const r = await client.chat.completions.create({
    model: 'default', messages: question, tools: several, tool_choice: 'required', n: 8, seed: 5, temperature: 1,
    max_tokens: 64,
  });
  const names = new Set();
  for (const c of r.choices) {
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls.length, 1);
    const f = c.message.tool_calls[0].function;
    names.add(f.name);
    if (f.name === 'get_weather') checkArguments(f.arguments);
    else assert.ok(['UTC', 'CET'].includes(JSON.parse(f.arguments).zone), f.arguments);
    assert.ok(['get_weather', 'get_time'].includes(f.name), f.name);
  }
  assert.ok(names.size > 1, `sampled calls name ${[...names]}`);
});

test('structured output: json_schema content parses and validates', async () => {
  const schema = {
    type: 'object',
    properties: { word: { enum: ['tree', 'river'] }, count: { type: 'integer' } },
    required: ['word', 'count'],
    additionalProperties: false,
  };
  const r = await client.chat.completions.create({
    model: 'default', messages: [{ role: 'user', content: 'A tree as JSON' }], n: 3, seed: 1, max_tokens: 64,
    response_format: { type: 'json_schema', json_schema: { name: 'thing', schema, strict: true } },
  });
  for (const c of r.choices) {
    assert.equal(c.finish_reason, 'stop');
    const v = JSON.parse(c.message.content);
    assert.ok(['tree', 'river'].includes(v.word));
    assert.ok(Number.isInteger(v.count));
  }
  await assert.rejects(client.chat.completions.create({
    model: 'default', messages: question,
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: 'a+' } } },
  }), (e) => e instanceof OpenAI.BadRequestError && /pattern/.test(e.message));
});

test('reasoning after a pre-filled <think> arrives as reasoning_content', async () => {
  const messages = [{ role: 'user', content: 'Why?' }, { role: 'assistant', content: '<think>\n', prefix: true }];
  const r = await client.chat.completions.create({ model: 'default', messages, temperature: 0, max_tokens: 8 });
  assert.ok(r.choices[0].message.reasoning_content.length > 0);
  const off = await client.chat.completions.create({
    model: 'default', messages, temperature: 0, max_tokens: 8, separate_reasoning: false,
  });
  assert.equal(off.choices[0].message.reasoning_content, undefined);
});
