// The official OpenAI Node SDK, used as its users write it, against a
// running kiln serve: KILN_URL (e.g. http://127.0.0.1:8000), KILN_MODEL,
// KILN_API_KEY. cmd_serve_node_test.go starts the server and runs this
// file with node's own test runner (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const model = process.env.KILN_MODEL;
const client = new OpenAI({ baseURL: `${process.env.KILN_URL}/v1`, apiKey: process.env.KILN_API_KEY, maxRetries: 0 });

test('models', async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), [model]);
  const m = await client.models.retrieve(model);
  assert.equal(m.owned_by, 'kiln');
});

test('completion', async () => {
  const c = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
  assert.equal(c.choices.length, 1);
  assert.match(c.choices[0].text, /^, there was/);
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.equal(c.usage.completion_tokens, 12);
});

test('completion with stop and logprobs', async () => {
  const c = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: ['Lily'], logprobs: 2 });
  assert.equal(c.choices[0].text, ', there was a little girl named ');
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.equal(c.choices[0].logprobs.tokens.length, c.choices[0].logprobs.token_logprobs.length);
});

test('chat, n > 1, seed determinism', async () => {
  const params = { model, messages: [{ role: 'user', content: 'Once' }], max_tokens: 8, n: 2, seed: 9, temperature: 1 };
  const a = await client.chat.completions.create(params);
  const b = await client.chat.completions.create(params);
  assert.equal(a.choices.length, 2);
  assert.equal(a.choices[1].index, 1);
  assert.equal(a.choices[0].message.role, 'assistant');
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
  assert.equal(a.usage.completion_tokens, 16);
});

test('chat logprobs', async () => {
  const c = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Once' }], max_tokens: 5, logprobs: true, top_logprobs: 3 });
  assert.equal(c.choices[0].logprobs.content.length, 5);
  assert.equal(c.choices[0].logprobs.content[0].top_logprobs.length, 3);
});

test('chat stream with usage', async () => {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Once' }], max_tokens: 8, stream: true, stream_options: { include_usage: true },
  });
  let text = '', role = '', finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      if (ch.delta.role) role = ch.delta.role;
      if (ch.delta.content) text += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.ok(chunks >= 3);
  assert.equal(role, 'assistant');
  assert.ok(text.length > 0);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 8);
});

test('completion stream', async () => {
  const stream = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.match(text, /^, there was/);
});

test('embeddings (the SDK asks for base64 and decodes it)', async () => {
  const e = await client.embeddings.create({ model, input: ['Once upon a time', 'The end'] });
  assert.equal(e.data.length, 2);
  const v = e.data[0].embedding;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
});

test('errors surface as the SDK typed errors', async () => {
  await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], temperature: 3 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature');
  await assert.rejects(client.completions.create({ model: 'gpt-4', prompt: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
  await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'tool_choice');
  const bad = new OpenAI({ baseURL: `${process.env.KILN_URL}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

// A tool round trip as an SDK user writes it: the model calls the tool
// (tool_choice required, so the call is grammar-constrained and always
// parses), the client runs it and sends the result back in a tool message,
// and the model answers (tool_choice auto: the server runs with
// --enable-auto-tool-choice and --tool-call-parser hermes).
const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'] },
  },
}];

function checkCall(call) {
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.ok(args.city.length <= 12);
}

async function answer(call, stream) {
  const messages = [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: call.id, content: 'sunny' },
  ];
  const params = { model, messages, tools, tool_choice: 'auto', max_tokens: 8, seed: 1 };
  if (!stream) {
    const c = await client.chat.completions.create(params);
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(typeof c.choices[0].message.content, 'string');
    return c.choices[0].finish_reason;
  }
  const s = await client.chat.completions.create({ ...params, stream: true });
  let finish = null;
  for await (const chunk of s) {
    for (const ch of chunk.choices) if (ch.finish_reason) finish = ch.finish_reason;
  }
  return finish;
}

test('tool round trip', async () => {
  const c = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Weather?' }], tools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 150, seed: 3,
  });
  const ch = c.choices[0];
  assert.equal(ch.finish_reason, 'tool_calls');
  assert.equal(ch.message.content, null);
  assert.equal(ch.message.tool_calls.length, 1);
  checkCall(ch.message.tool_calls[0]);
  assert.ok(['stop', 'length'].includes(await answer(ch.message.tool_calls[0], false)));
});

test('tool round trip, streamed', async () => {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Weather?' }], tools,
    tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 150, seed: 4, stream: true,
  });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    for (const ch of chunk.choices) {
      for (const d of ch.delta.tool_calls ?? []) {
        if (d.id) calls[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: d.function.arguments ?? '' } };
        else calls[d.index].function.arguments += d.function.arguments;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  checkCall(calls[0]);
  assert.ok(['stop', 'length'].includes(await answer(calls[0], true)));
});

test('tool round trip with the SDK stream helper', async () => {
  const runner = client.chat.completions.stream({
    model, messages: [{ role: 'user', content: 'Weather?' }], tools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 150, seed: 5,
  });
  const final = await runner.finalChatCompletion();
  const msg = final.choices[0].message;
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.tool_calls.length, 1);
  checkCall(msg.tool_calls[0]);
});

test('response_format json_schema', async () => {
  const schema = { type: 'object', properties: { answer: { enum: ['yes', 'no'] }, n: { type: 'integer' } }, required: ['answer', 'n'] };
  const c = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Once' }], max_tokens: 40, seed: 2,
    response_format: { type: 'json_schema', json_schema: { name: 'a', schema, strict: true } },
  });
  if (c.choices[0].finish_reason === 'stop') {
    const v = JSON.parse(c.choices[0].message.content);
    assert.ok(['yes', 'no'].includes(v.answer));
    assert.ok(Number.isInteger(v.n));
  }
  await assert.rejects(client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object', dependentRequired: { a: ['b'] } } } },
  }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'response_format' && /dependentRequired/.test(e.message));
});
