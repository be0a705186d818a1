// The official Anthropic TypeScript SDK, used as its users write it,
// against a running kiln serve: KILN_URL (e.g. http://127.0.0.1:8000),
// KILN_MODEL, KILN_API_KEY. cmd_serve_anthropic_test.go starts the server
// and runs this file with node's own test runner (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const model = process.env.KILN_MODEL;
const client = new Anthropic({ baseURL: process.env.KILN_URL, apiKey: process.env.KILN_API_KEY, maxRetries: 0 });

test('message', async () => {
  const m = await client.messages.create({
    model, max_tokens: 12, temperature: 0, system: 'You tell stories.',
    messages: [{ role: 'user', content: 'Once upon a time' }],
  });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].type, 'text');
  assert.ok(m.content[0].text.length > 0);
  assert.equal(m.stop_reason, 'max_tokens');
  assert.equal(m.usage.output_tokens, 12);
  assert.ok(m.usage.input_tokens > 0);
});

test('stop sequences', async () => {
  const params = { model, max_tokens: 24, temperature: 0, messages: [{ role: 'user', content: 'Once upon a time' }] };
  const free = await client.messages.create(params);
  const text = free.content[0].text;
  const stop = text.slice(4, 7);
  const m = await client.messages.create({ ...params, stop_sequences: ['@@', stop] });
  assert.equal(m.stop_reason, 'stop_sequence');
  assert.equal(m.stop_sequence, stop);
  assert.equal(m.content[0].text, text.slice(0, text.indexOf(stop)));
});

test('raw stream events', async () => {
  const stream = await client.messages.create({
    model, max_tokens: 10, temperature: 0, stream: true, messages: [{ role: 'user', content: 'Once upon a time' }],
  });
  const types = [];
  let text = '', stopReason = null, outputTokens = 0;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    if (ev.type === 'message_delta') { stopReason = ev.delta.stop_reason; outputTokens = ev.usage.output_tokens; }
  }
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.ok(types.includes('content_block_start') && types.includes('content_block_stop'));
  assert.equal(stopReason, 'max_tokens');
  assert.equal(outputTokens, 10);
  const whole = await client.messages.create({ model, max_tokens: 10, temperature: 0, messages: [{ role: 'user', content: 'Once upon a time' }] });
  assert.equal(text, whole.content[0].text);
});

test('the SDK stream helper', async () => {
  const stream = client.messages.stream({ model, max_tokens: 8, messages: [{ role: 'user', content: 'Once' }] });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, text);
  assert.equal(final.stop_reason, 'max_tokens');
});

test('count tokens', async () => {
  const params = { model, system: 'You tell stories.', messages: [{ role: 'user', content: 'Once upon a time' }] };
  const n = await client.messages.countTokens(params);
  const m = await client.messages.create({ ...params, max_tokens: 1 });
  assert.equal(n.input_tokens, m.usage.input_tokens);
});

// A tool round trip: tool_choice any forces one call (grammar-constrained,
// so it always parses), the client runs the tool and sends a tool_result
// back, and the model answers (tool_choice auto: the server runs with
// --enable-auto-tool-choice and --tool-call-parser hermes).
const tools = [{
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'] },
}];

function checkCall(block) {
  assert.equal(block.type, 'tool_use');
  assert.equal(block.name, 'get_weather');
  assert.equal(typeof block.id, 'string');
  assert.equal(typeof block.input.city, 'string');
  assert.ok(block.input.city.length <= 12);
}

async function answer(content) {
  const call = content.find((b) => b.type === 'tool_use');
  const m = await client.messages.create({
    model, max_tokens: 8, tools, messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }] },
    ],
  });
  assert.equal(m.role, 'assistant');
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(m.stop_reason));
}

test('tool round trip', async () => {
  const m = await client.messages.create({
    model, max_tokens: 150, tools, tool_choice: { type: 'any', disable_parallel_tool_use: true },
    messages: [{ role: 'user', content: 'Weather?' }],
  });
  assert.equal(m.stop_reason, 'tool_use');
  const calls = m.content.filter((b) => b.type === 'tool_use');
  assert.equal(calls.length, 1);
  checkCall(calls[0]);
  await answer(m.content);
});

test('tool round trip, streamed', async () => {
  const stream = client.messages.stream({
    model, max_tokens: 150, tools, tool_choice: { type: 'tool', name: 'get_weather' },
    messages: [{ role: 'user', content: 'Weather?' }],
  });
  let partial = '';
  stream.on('inputJson', (delta) => { partial += delta; });
  const m = await stream.finalMessage();
  assert.equal(m.stop_reason, 'tool_use');
  const calls = m.content.filter((b) => b.type === 'tool_use');
  assert.equal(calls.length, 1);
  checkCall(calls[0]);
  assert.deepEqual(JSON.parse(partial), calls[0].input);
  await answer(m.content);
});

test('errors surface as the SDK typed errors', async () => {
  await assert.rejects(client.messages.create({ model, max_tokens: 5, temperature: 3, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && e.status === 400 && e.error.error.type === 'invalid_request_error');
  await assert.rejects(client.messages.create({ model: 'claude-opus-4', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error');
  await assert.rejects(client.messages.create({ model, max_tokens: 5, messages: [] }),
    (e) => e instanceof Anthropic.BadRequestError && /messages/.test(e.error.error.message));
  const bad = new Anthropic({ baseURL: process.env.KILN_URL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.AuthenticationError && e.status === 401);
});
