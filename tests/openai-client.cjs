// openai-client.cjs - OpenAI's official Node.js client library against `lstmlm serve`:
// models, chat completions (plain, streamed, a session over two turns), completions, and
// errors as the library raises them. Run by tests/serve-openai.sh, which passes the server's
// address and the replies `lstmlm chat` and `lstmlm generate` gave. Prints ok/FAILED lines and
// exits 1 when something failed.
'use strict';
const OpenAI = require('openai');
const env = process.env;
const client = new OpenAI({ baseURL: env.BASE_URL + '/v1', apiKey: env.API_KEY, maxRetries: 0 });
const model = env.MODEL_ID;
let fails = 0;
function check(name, cond, detail) {
    if (cond) console.log('ok: ' + name);
    else { fails++; console.log('FAILED: ' + name + (detail !== undefined ? ' (' + JSON.stringify(detail) + ')' : '')); }
}
const user = (text) => [{ role: 'user', content: text }];

async function streamText(stream, field) {
    let text = '', finish = null, chunks = 0;
    for await (const ch of stream) {
        chunks++;
        const c = ch.choices[0];
        if (!c) continue;
        text += (field === 'delta' ? c.delta.content : c.text) || '';
        if (c.finish_reason) finish = c.finish_reason;
    }
    return { text, finish, chunks };
}

(async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    check('models.list() lists the model', ids.includes(model), ids);
    const got = await client.models.retrieve(model);
    check('models.retrieve()', got.id === model, got);

    const r = await client.chat.completions.create({ model, messages: user(env.T1), seed: 11 });
    check('chat.completions.create() = lstmlm chat --seed 11', r.choices[0].message.content === env.R1,
          r.choices[0].message.content);
    check('usage counts', r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0 &&
          r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, r.usage);

    const s = await client.chat.completions.create({ model, messages: user(env.T1), seed: 11, stream: true });
    const st = await streamText(s, 'delta');
    check('chat.completions.create({stream: true}) = the same reply', st.text === env.R1 && st.finish === 'stop', st);

    // A session over two turns (the extension field passes through the library).
    const a = await client.chat.completions.create({ model, messages: user(env.T1), seed: 11, session: 'js1' });
    const b = await client.chat.completions.create({ model, messages: user(env.T2), session: 'js1', stream: true });
    const bt = await streamText(b, 'delta');
    check('a session over two requests = lstmlm chat, turns 1 and 2',
          a.choices[0].message.content === env.R1 && bt.text === env.R2, [a.choices[0].message.content, bt.text]);

    const c = await client.completions.create({ model, prompt: 'I am', max_tokens: 12, seed: 5 });
    check('completions.create() = lstmlm generate', c.choices[0].text === env.G, c.choices[0].text);
    const cs = await client.completions.create({ model, prompt: 'I am', max_tokens: 12, seed: 5, stream: true });
    const ct = await streamText(cs, 'text');
    check('completions.create({stream: true}) = the same text', ct.text === env.G, ct);

    try {
        await client.chat.completions.create({ model, messages: user('x'), temperature: 5 });
        check('temperature 5 raises', false);
    } catch (e) {
        check('temperature 5 raises BadRequestError 400 invalid_value',
              e instanceof OpenAI.BadRequestError && e.status === 400 && e.code === 'invalid_value', [e.status, e.code]);
    }
    try {
        await client.chat.completions.create({ model: 'gpt-4o', messages: user('x') });
        check('an unknown model raises', false);
    } catch (e) {
        check('an unknown model raises NotFoundError 404', e instanceof OpenAI.NotFoundError && e.status === 404, e.status);
    }
    try {
        const bad = new OpenAI({ baseURL: env.BASE_URL + '/v1', apiKey: 'wrong', maxRetries: 0 });
        await bad.chat.completions.create({ model, messages: user('x') });
        check('a wrong key raises', false);
    } catch (e) {
        check('a wrong key raises AuthenticationError 401', e instanceof OpenAI.AuthenticationError && e.status === 401, e.status);
    }
    console.log('openai-client: ' + (fails ? fails + ' failed' : 'all passed'));
    process.exit(fails ? 1 : 0);
})().catch((e) => { console.log('FAILED: ' + (e && e.stack || e)); process.exit(1); });
