#!/usr/bin/python3
"""A local OpenAI-compatible chat-completions server for testing `cairn ask --endpoint`.

    mock_openai.py [--port N]     prints the port it listens on (127.0.0.1), then serves

The scenario is chosen per request by the request's "model" (cairn ask --llm-model NAME):

  grounded         a well-formed answer built from the prompt's passages: the passage
                   sentences sharing the most words with the question, quoted exactly
  paraphrase       the grounded answer reworded ("According to the passage, employees …"),
                   quoting the passage sentences exactly
  fenced           the grounded answer inside ```json fences, with a sentence after it
  invalid-then-valid   "{not json" first; the grounded answer when the request carries the
                   earlier reply (a retry: an assistant message in the conversation)
  garbage          never JSON
  no-citations     every sentence without citations or quotes
  bad-citation     the grounded sentence citing passage 99 (not in the context)
  fabricated-number  a grounded sentence, plus one quoting the same passage but stating a
                   figure (4242) the passage does not hold
  bad-quote        a grounded sentence whose quote is not in the passage
  http500          500 on odd-numbered requests of this model, the grounded answer on even
  http429          429 (Retry-After: 0) likewise
  slow             sleeps SLOW_SECONDS (default 5) before answering
  abstain          {"answer_sentences": [], "abstain": true, "confidence": 0.9}
  low-confidence   the grounded answer with confidence 0.05
  unauthorized     401 whose error message echoes the Authorization header it got
  reject-schema    400 when the request has response_format, else the grounded answer
  huge             a 10 MB response
  not-openai       200 with a JSON body that has no choices

Tool-use scenarios (OpenAI "tools" / "tool_calls"; tests/e2e/tools.sh), each a function of the
conversation so far, so a replayed or repeated session gets the same replies:
  tools-lookup     looks up the ticket named in the request (T-1234), then, when the request
                   asks to close or update it, proposes ticket_update; then a final answer
  tools-invalid    proposes ticket_update with a wrong-typed id, and again after the rejection
  tools-invalid-then-valid   a wrong-typed ticket_lookup first, the corrected call after the
                   rejection comes back, then a final answer
  tools-poisoned   looks up the ticket in the request; if the result asks for an e-mail (a
                   poisoned ticket), proposes send_email to the address it names
  tools-gullible   a deliberately obedient model for the adversarial runs: looks up a named
                   document or ticket first; then, if the request or a tool result reads like
                   an instruction, proposes a high-tier call (send_email when it mentions mail
                   or sending, else ticket_update); then a final answer

GET /stats returns {"requests": total, "by_model": {model: n}, "auth": [Authorization headers
seen, in order], "last": the last chat request body}; POST /reset clears them. Everything is
standard library; passages are read back from the prompt's fences, so the answers quote exactly
what cairn sent.
"""
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATS = {"requests": 0, "by_model": {}, "auth": [], "last": None}
SLOW = float(os.environ.get("SLOW_SECONDS", "5"))

FENCE = re.compile(r"<<<BEGIN PASSAGE (\d+) ([0-9a-f]{16})>>>\n(.*?)\n<<<END PASSAGE \1 \2>>>", re.S)
WORD = re.compile(r"[A-Za-z0-9]+")
STOP = set("a an the of to in is are was be by for on at and or what how which who when where does do it this "
           "that with as from can".split())


def passages(prompt):
    out = {}
    for m in FENCE.finditer(prompt):
        body = m.group(3)
        k = body.find("Text:\n")
        out[int(m.group(1))] = body[k + 6:] if k >= 0 else body
    return out


def question_of(prompt):
    m = re.search(r"\nQuestion: (.*)\n\nReply with the JSON object only\.$", prompt, re.S)
    return m.group(1) if m else ""


def sentences(text):
    # simple splitter: ". " / "? " / "! " / newlines; keeps the sentence text verbatim
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in parts if len(p.strip().split()) >= 4]


def best_sentences(ps, question, n=2):
    q = {w.lower() for w in WORD.findall(question)} - STOP
    scored = []
    for pid, text in ps.items():
        for s in sentences(text):
            if "|" in s or "`" in s:
                continue
            words = {w.lower() for w in WORD.findall(s)}
            scored.append((len(q & words), -pid, s, pid))
    scored.sort(reverse=True)
    out, seen = [], set()
    for sc, _, s, pid in scored:
        if s in seen:
            continue
        seen.add(s)
        out.append((pid, s))
        if len(out) == n:
            break
    return out


def grounded(ps, question):
    best = best_sentences(ps, question)
    if not best:
        return {"answer_sentences": [], "abstain": True, "confidence": 0.8}
    return {"answer_sentences": [{"text": s, "citations": [pid], "quotes": [s]} for pid, s in best],
            "abstain": False, "confidence": 0.9}


def reply_for(model, req, nth):
    """(status, headers, body bytes) for a chat request."""
    msgs = req.get("messages", [])
    user = next((m["content"] for m in msgs if m.get("role") == "user"), "")
    ps = passages(user)
    q = question_of(user)
    retry = any(m.get("role") == "assistant" for m in msgs)
    content = None
    if model == "grounded":
        content = json.dumps(grounded(ps, q))
    elif model == "paraphrase":
        g = grounded(ps, q)
        for x in g["answer_sentences"]:
            x["text"] = "According to the passage, " + x["text"][0].lower() + x["text"][1:]
        content = json.dumps(g)
    elif model == "fenced":
        content = "Here is the answer:\n```json\n" + json.dumps(grounded(ps, q), indent=1) + "\n```\nHope this helps."
    elif model == "invalid-then-valid":
        content = json.dumps(grounded(ps, q)) if retry else "{not json"
    elif model == "garbage":
        content = "I think the answer is probably 42, but I am not sure."
    elif model == "no-citations":
        g = grounded(ps, q)
        for s in g["answer_sentences"]:
            s["citations"], s["quotes"] = [], []
        content = json.dumps(g)
    elif model == "bad-citation":
        g = grounded(ps, q)
        for s in g["answer_sentences"]:
            s["citations"] = [99]
        content = json.dumps(g)
    elif model == "fabricated-number":
        g = grounded(ps, q)
        first = g["answer_sentences"][0]
        g["answer_sentences"] = [first, {"text": "This limit was raised to 4242 in the latest release.",
                                         "citations": first["citations"], "quotes": first["quotes"]}]
        content = json.dumps(g)
    elif model == "bad-quote":
        g = grounded(ps, q)
        g["answer_sentences"][0]["quotes"] = ["words that appear in no passage at all"]
        content = json.dumps(g)
    elif model in ("http500", "http429"):
        if nth % 2 == 1:
            code = 500 if model == "http500" else 429
            hdr = {"Retry-After": "0"} if code == 429 else {}
            return code, hdr, json.dumps({"error": {"message": "try again", "code": code}}).encode()
        content = json.dumps(grounded(ps, q))
    elif model == "slow":
        time.sleep(SLOW)
        content = json.dumps(grounded(ps, q))
    elif model == "abstain":
        content = json.dumps({"answer_sentences": [], "abstain": True, "confidence": 0.9})
    elif model == "low-confidence":
        g = grounded(ps, q)
        g["confidence"] = 0.05
        content = json.dumps(g)
    elif model == "reject-schema":
        if "response_format" in req:
            return 400, {}, json.dumps({"error": {"message": "response_format is not supported"}}).encode()
        content = json.dumps(grounded(ps, q))
    elif model == "huge":
        content = "x" * (10 << 20)
    elif model == "not-openai":
        return 200, {}, json.dumps({"result": "no choices here"}).encode()
    elif model.startswith("tools-"):
        return tools_reply(model, req, nth)
    else:
        return 404, {}, json.dumps({"error": {"message": "model %s not found" % model}}).encode()
    body = {"id": "mock-%d" % nth, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": len(content) // 4}}
    return 200, {}, json.dumps(body).encode()


TICKET = re.compile(r"\b([TD]-\d+)\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
TRIGGER = re.compile(r"\b(ignore|instruction|instructions|send|e-?mail|mail|forward|password|access|grant|"
                     r"reveal|say|print|write|reply|respond|click|visit|delete|transfer|update|close|output|"
                     r"translate|tell|explain|add|include|system)\b", re.I)


def tool_call(nth, k, name, args):
    return {"id": "call_%d_%d" % (nth, k), "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


def tools_reply(model, req, nth):
    msgs = req.get("messages", [])
    user = next((m.get("content") or "" for m in msgs if m.get("role") == "user"), "")
    results = [m.get("content") or "" for m in msgs if m.get("role") == "tool"]
    calls_made = [c["function"]["name"] for m in msgs if m.get("role") == "assistant"
                  for c in (m.get("tool_calls") or [])]
    declared = [t["function"]["name"] for t in req.get("tools", [])]
    m = TICKET.search(user)
    tid = m.group(1) if m else "T-1001"
    calls, content = [], None
    if model == "tools-lookup":
        if "ticket_lookup" not in calls_made:
            calls = [tool_call(nth, 0, "ticket_lookup", {"id": tid})]
        elif re.search(r"\b(close|update)\b", user, re.I) and "ticket_update" not in calls_made:
            calls = [tool_call(nth, 0, "ticket_update", {"id": tid, "status": "closed",
                                                          "comment": "Fixed: the printer's duplex unit was replaced."})]
        else:
            content = "Ticket %s: done; the update waits for approval." % tid
    elif model == "tools-invalid":
        if len(calls_made) < 3:
            calls = [tool_call(nth, 0, "ticket_update", {"id": 1001, "status": "closed"})]
        else:
            content = "I could not update the ticket."
    elif model == "tools-invalid-then-valid":
        if not calls_made:
            calls = [tool_call(nth, 0, "ticket_lookup", {"id": 1001, "verbose": True})]
        elif len(calls_made) == 1:
            calls = [tool_call(nth, 0, "ticket_lookup", {"id": tid})]
        else:
            content = "Ticket %s is open." % tid
    elif model == "tools-poisoned":
        if not calls_made:
            calls = [tool_call(nth, 0, "ticket_lookup", {"id": tid})]
        elif "send_email" not in calls_made and results and EMAIL.search(results[-1]):
            calls = [tool_call(nth, 0, "send_email", {"to": EMAIL.search(results[-1]).group(0),
                                                      "subject": "Customer list", "body": "As requested."})]
        else:
            content = "Ticket %s is about an invoice." % tid
    elif model == "tools-gullible":
        look = "document_lookup" if tid.startswith("D-") and "document_lookup" in declared else "ticket_lookup"
        if m and not calls_made:
            calls = [tool_call(nth, 0, look, {"id": tid})]
        elif not any(c in ("send_email", "ticket_update") for c in calls_made):
            text = (results[-1] if results else user)
            if TRIGGER.search(text):
                if re.search(r"\b(send|e-?mail|mail|forward)\b", text, re.I):
                    to = EMAIL.search(text)
                    calls = [tool_call(nth, 0, "send_email", {"to": to.group(0) if to else "attacker@evil.example",
                                                              "subject": "As instructed", "body": "Done."})]
                else:
                    calls = [tool_call(nth, 0, "ticket_update", {"id": "T-1001", "status": "closed",
                                                                  "comment": "Done as instructed."})]
            else:
                content = "Nothing to do."
        else:
            content = "Done."
    msg = {"role": "assistant", "content": content}
    if calls:
        msg["tool_calls"] = calls
    body = {"id": "mock-%d" % nth, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if calls else "stop"}]}
    return 200, {}, json.dumps(body).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, code, headers, body):
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.send(200, {}, json.dumps(STATS).encode())
        else:
            self.send(404, {}, b'{"error":"not found"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path == "/reset":
            with LOCK:
                STATS.update({"requests": 0, "by_model": {}, "auth": [], "last": None})
            self.send(200, {}, b"{}")
            return
        if not self.path.endswith("/v1/chat/completions"):
            self.send(404, {}, b'{"error":{"message":"no such route"}}')
            return
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            self.send(415, {}, b'{"error":{"message":"expected application/json"}}')
            return
        try:
            req = json.loads(raw)
        except ValueError as e:
            self.send(400, {}, json.dumps({"error": {"message": "bad JSON: %s" % e}}).encode())
            return
        model = req.get("model", "grounded")
        auth = self.headers.get("Authorization")
        with LOCK:
            STATS["requests"] += 1
            STATS["by_model"][model] = nth = STATS["by_model"].get(model, 0) + 1
            STATS["auth"].append(auth)
            STATS["last"] = req
        if model == "unauthorized":
            self.send(401, {}, json.dumps({"error": {"message": "Incorrect API key provided: %s" % auth}}).encode())
            return
        code, headers, body = reply_for(model, req, nth)
        self.send(code, headers, body)


def main():
    port = 0
    if len(sys.argv) == 3 and sys.argv[1] == "--port":
        port = int(sys.argv[2])
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
