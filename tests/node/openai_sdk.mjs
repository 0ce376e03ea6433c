// The official OpenAI Node SDK against `cairn serve` (tests/e2e/openai_sdk.sh): chat
// completions plain and streamed, embeddings (the SDK's default base64 and explicit float),
// model listing, and the SDK's own error type for a bad key. Exits non-zero on any failure.
import OpenAI from "openai";

const baseURL = process.env.CAIRN_URL + "/v1";
const client = new OpenAI({ apiKey: process.env.CAIRN_KEY, baseURL, maxRetries: 0 });
const fails = [];
const check = (cond, what) => { if (!cond) { fails.push(what); console.error("FAIL:", what); } };
const question = "what temperature does the plutoniumwombat reactor run at";

const chat = await client.chat.completions.create({
  model: "cairn",
  messages: [{ role: "system", content: "Answer from the documents." }, { role: "user", content: question }],
});
const msg = chat.choices[0].message;
check(chat.object === "chat.completion", "chat object");
check(msg.role === "assistant" && /340/.test(msg.content) && /\[\d+\]/.test(msg.content), `chat content: ${msg.content}`);
check(chat.choices[0].finish_reason === "stop", "finish_reason");
check(Array.isArray(chat.citations) && chat.citations.length > 0 && chat.citations[0].quote.includes("340"), "citations field");
check(chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens, "usage");

const stream = await client.chat.completions.create({
  model: "cairn", stream: true, messages: [{ role: "user", content: question }],
});
let text = "", chunks = 0, last = null;
for await (const chunk of stream) {
  chunks++;
  check(chunk.object === "chat.completion.chunk", "chunk object");
  text += chunk.choices[0]?.delta?.content ?? "";
  last = chunk;
}
check(chunks >= 3 && /340/.test(text) && text === msg.content, `streamed text (${chunks} chunks): ${text}`);
check(last.choices[0].finish_reason === "stop" && last.citations?.length > 0, "last chunk: stop with citations");

const emb = await client.embeddings.create({ model: process.env.CAIRN_EMBED_NAME, input: ["reactor cooling", "salary bands"] });
check(emb.data.length === 2 && emb.data[0].embedding.length === Number(process.env.CAIRN_EMBED_DIM), `embeddings (base64): ${emb.data[0]?.embedding?.length}`);
const norm = Math.sqrt(Array.from(emb.data[0].embedding).reduce((s, x) => s + x * x, 0));
check(Math.abs(norm - 1) < 1e-3, `embedding is normalized: ${norm}`);
const embf = await client.embeddings.create({ model: process.env.CAIRN_EMBED_NAME, input: "reactor cooling", encoding_format: "float" });
check(embf.data.length === 1 && embf.data[0].embedding.every((x, i) => Math.abs(x - emb.data[0].embedding[i]) < 1e-5), "float = base64 embedding");

const models = [];
for await (const m of client.models.list()) models.push(m.id);
check(models.includes("cairn") && models.includes(process.env.CAIRN_EMBED_NAME), `models: ${models}`);

const bad = new OpenAI({ apiKey: "cn_not_a_key", baseURL, maxRetries: 0 });
try {
  await bad.chat.completions.create({ model: "cairn", messages: [{ role: "user", content: question }] });
  check(false, "a bad key must fail");
} catch (e) {
  check(e instanceof OpenAI.AuthenticationError && e.status === 401, `bad key error: ${e}`);
}

console.log(fails.length ? `${fails.length} checks failed` : "ok");
process.exit(fails.length ? 1 : 0);
