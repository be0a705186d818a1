// The official OpenAI Node SDK's Responses API against a running kiln
// serve: KILN_URL, KILN_MODEL, KILN_API_KEY as for openai.test.mjs.
// cmd_serve_responses_test.go starts the server and runs this file with
// node's own test runner (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const model = process.env.KILN_MODEL;
const client = new OpenAI({ baseURL: `${process.env.KILN_URL}/v1`, apiKey: process.env.KILN_API_KEY, maxRetries: 0 });

test('response', async () => {
  const r = await client.responses.create({ model, instructions: 'Tell a story.', input: 'Once upon a time', max_output_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.status, 'incomplete');
  assert.equal(r.incomplete_details.reason, 'max_output_tokens');
  assert.equal(r.output.length, 1);
  assert.equal(r.output[0].type, 'message');
  assert.equal(r.output[0].content[0].type, 'output_text');
  assert.ok(r.output_text.length > 0);
  assert.equal(r.usage.output_tokens, 12);
  const got = await client.responses.retrieve(r.id);
  assert.equal(got.output_text, r.output_text);
  const del = await client.responses.delete(r.id);
  assert.equal(del?.deleted ?? true, true);
  await assert.rejects(client.responses.retrieve(r.id), (e) => e instanceof OpenAI.NotFoundError);
});

test('raw stream events', async () => {
  const params = { model, input: 'Once upon a time', max_output_tokens: 10, temperature: 0 };
  const stream = await client.responses.create({ ...params, stream: true });
  const types = [];
  let text = '', last = -1, final = null;
  for await (const ev of stream) {
    types.push(ev.type);
    assert.equal(ev.sequence_number, last + 1);
    last = ev.sequence_number;
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.incomplete' || ev.type === 'response.completed') final = ev.response;
  }
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  assert.equal(types.at(-1), 'response.incomplete');
  assert.equal(final.output_text, text);
  const whole = await client.responses.create(params);
  assert.equal(text, whole.output_text);
});

test('the SDK stream helper', async () => {
  const stream = client.responses.stream({ model, input: 'Once', max_output_tokens: 8 });
  let text = '';
  stream.on('response.output_text.delta', (ev) => { text += ev.delta; });
  const final = await stream.finalResponse();
  // max_output_tokens cuts it: the helper's final response is then its own
  // snapshot (only response.completed replaces it), without output_text.
  assert.equal(final.output[0].content[0].text, text);
});

test('previous_response_id continues the conversation', async () => {
  const first = await client.responses.create({ model, input: 'Once upon a time there was a girl who liked the sun.', max_output_tokens: 20 });
  const next = await client.responses.create({ model, input: 'And then?', previous_response_id: first.id, max_output_tokens: 4 });
  assert.equal(next.previous_response_id, first.id);
  assert.ok(next.usage.input_tokens > first.usage.input_tokens);
  assert.ok(next.usage.input_tokens_details.cached_tokens >= first.usage.input_tokens - 16,
    `cached ${next.usage.input_tokens_details.cached_tokens} of a ${first.usage.input_tokens}-token first turn`);
});

// A function call round trip: tool_choice required forces one call
// (grammar-constrained, so it always parses); the client runs it and sends
// a function_call_output with previous_response_id.
const tools = [{
  type: 'function', name: 'get_weather', description: 'Weather in a city', strict: true,
  parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'], additionalProperties: false },
}];

function checkCall(item) {
  assert.equal(item.type, 'function_call');
  assert.equal(item.name, 'get_weather');
  assert.equal(typeof item.call_id, 'string');
  const args = JSON.parse(item.arguments);
  assert.equal(typeof args.city, 'string');
  assert.ok(args.city.length <= 12);
}

async function answer(r, call) {
  const next = await client.responses.create({
    model, tools, previous_response_id: r.id, max_output_tokens: 8,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
  });
  assert.ok(['completed', 'incomplete'].includes(next.status));
}

test('function call round trip', async () => {
  const r = await client.responses.create({ model, input: 'Weather?', tools, tool_choice: 'required', parallel_tool_calls: false, max_output_tokens: 150 });
  assert.equal(r.status, 'completed');
  const calls = r.output.filter((o) => o.type === 'function_call');
  assert.equal(calls.length, 1);
  checkCall(calls[0]);
  await answer(r, calls[0]);
});

test('function call round trip, streamed', async () => {
  const stream = client.responses.stream({ model, input: 'Weather?', tools, tool_choice: { type: 'function', name: 'get_weather' }, max_output_tokens: 150 });
  let args = '';
  stream.on('response.function_call_arguments.delta', (ev) => { args += ev.delta; });
  const r = await stream.finalResponse();
  const calls = r.output.filter((o) => o.type === 'function_call');
  assert.equal(calls.length, 1);
  checkCall(calls[0]);
  assert.equal(args, calls[0].arguments);
  await answer(r, calls[0]);
});

test('text.format json_schema', async () => {
  const schema = { type: 'object', properties: { answer: { enum: ['yes', 'no'] } }, required: ['answer'], additionalProperties: false };
  const r = await client.responses.create({ model, input: 'Once', max_output_tokens: 40, text: { format: { type: 'json_schema', name: 'a', schema, strict: true } } });
  if (r.status === 'completed') assert.ok(['yes', 'no'].includes(JSON.parse(r.output_text).answer));
});

test('errors surface as the SDK typed errors', async () => {
  await assert.rejects(client.responses.create({ model, input: 'x', temperature: 3 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
  await assert.rejects(client.responses.create({ model, input: 'x', previous_response_id: 'resp_missing' }),
    (e) => e instanceof OpenAI.NotFoundError && e.param === 'previous_response_id');
  await assert.rejects(client.responses.create({ model, input: 'x', tools: [{ type: 'web_search' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'not_implemented');
});
